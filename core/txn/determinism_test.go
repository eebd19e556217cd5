package txn

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDeterministicReplies runs one busy script several times and compares every reply,
// marker round, event and record, in order: Go randomizes map iteration, so any map
// order reaching an output shows up as a difference.
func TestDeterministicReplies(t *testing.T) {
	first := scriptTranscript(t)
	for range 3 {
		if again := scriptTranscript(t); again != first {
			t.Fatalf("transcripts differ:\n%s\n---\n%s", first, again)
		}
	}
}

func scriptTranscript(t *testing.T) string {
	h := newHarness(t)
	var out strings.Builder
	rec := func(what string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%d %s %s\n", h.now, what, b)
	}
	h.cfg.Events = func(e Event) { rec("event", e.String()) }
	send := h.markers.send
	h.markers.code = func(m MarkerRequest, p TopicPartition) int16 {
		if p.Partition == 1 && len(h.markers.sent) < 6 {
			return codeNotCoordinator
		}
		return 0
	}
	h.cfg.SendMarkers = func(now int64, m MarkerRequest, done func([]int16)) {
		rec("markers", m)
		send(now, m, done)
	}
	h.cfg.IDExpiration = 20 * time.Second // some ids expire within the script
	h.failover(testEpoch)                 // with the recording config
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = fmt.Sprintf("tx-%02d", (i*7)%12)
		h.c.InitProducerID(h.now, ids[i], int32(1000*(i+1)), -1, -1, func(p int64, e int16, code int16) {
			rec("init "+ids[i], []any{p, e, code})
		})
	}
	for i, id := range ids {
		st := h.status(id)
		h.c.AddPartitions(h.now, id, st.ProducerID, st.ProducerEpoch, tps(fmt.Sprint("t", i%3), 0, 1, int32(i)),
			func(codes []int16) { rec("add "+id, codes) })
	}
	for i, id := range ids[:6] {
		st := h.status(id)
		h.c.EndTxn(h.now, id, st.ProducerID, st.ProducerEpoch, i%2 == 0, func(code int16) { rec("end "+id, code) })
	}
	h.c.InitProducerID(h.now, ids[7], testTimeoutMs, -1, -1, func(p int64, e int16, code int16) { rec("fence", []any{p, e, code}) })
	h.run(30 * time.Second)
	h.failover(testEpoch + 1)
	h.run(time.Second)
	rec("list", h.c.List())
	return out.String()
}
