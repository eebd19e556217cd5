package partition

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// Transactions in the randomized cluster: producers that play their own transaction
// coordinator (data batches acknowledged with acks=all, then a commit or abort marker
// written with WriteMarker until it succeeds; after a refusal of their data, an abort
// with the next epoch, as a coordinator fences), and read_committed consumers that drop
// aborted data as Kafka clients do. The checkers: a read_committed consumer never gets a
// batch at or above the last stable offset, never sees the last stable offset go back or
// above the high watermark, and delivers only records of committed transactions; at the
// end no transaction is open and every replica lists the aborted transactions the final
// log holds.

// txnWorld is the transactional part of a world.
type txnWorld struct {
	prods     []*txnProducer
	cons      []*rcConsumer
	committed map[string]bool // values of committed transactions
	delivered []string        // values of transactional producers read_committed consumers delivered
	commits   int
	aborts    int
	fences    int
}

func (w *world) addTxnClients() {
	w.txn = &txnWorld{committed: map[string]bool{}}
	for i := range w.cfg.txnProducers {
		w.nextPID++
		p := &txnProducer{w: w, id: int64(200 + i), pid: w.nextPID, leader: -1}
		w.txn.prods = append(w.txn.prods, p)
		w.after(w.dur(0, 5*time.Millisecond), p.loop)
	}
	for i := range w.cfg.rcConsumers {
		c := &rcConsumer{w: w, id: int64(300 + i), leader: -1}
		w.txn.cons = append(w.txn.cons, c)
		w.after(w.dur(0, 5*time.Millisecond), c.loop)
	}
}

// txnsIdle reports whether every transactional producer finished.
func (w *world) txnsIdle() bool {
	if w.txn == nil {
		return true
	}
	for _, p := range w.txn.prods {
		if !p.done {
			return false
		}
	}
	return true
}

type txnPhase uint8

const (
	txnIdle txnPhase = iota
	txnData
	txnEnding
)

type txnProducer struct {
	w          *world
	id         int64
	pid        int64
	epoch      int16
	coordEpoch int32
	nextSeq    int32
	phase      txnPhase
	batches    []*pbatch // the data batches of the open transaction
	acked      int       // how many of them were acknowledged (they go one at a time)
	values     []string
	commit     bool
	fence      bool // end with an abort in the next epoch
	busy       bool
	attempt    int
	leader     int32
	sent       int
	done       bool
}

func (p *txnProducer) loop() {
	w := p.w
	if p.done {
		return
	}
	if !p.busy {
		switch p.phase {
		case txnIdle:
			if w.healing {
				p.done = true
				return
			}
			p.begin()
		case txnData:
			if p.acked < len(p.batches) {
				p.sendData(p.batches[p.acked])
			} else {
				p.phase, p.commit = txnEnding, w.rng.IntN(3) > 0
			}
		case txnEnding:
			p.sendMarker()
		}
	}
	w.after(w.dur(500*time.Microsecond, 4*time.Millisecond), p.loop)
}

func (p *txnProducer) begin() {
	w := p.w
	p.phase, p.acked, p.batches, p.values, p.fence = txnData, 0, nil, nil, false
	if w.rng.IntN(10) == 0 {
		p.coordEpoch++ // a new coordinator
	}
	for range 1 + w.rng.IntN(3) {
		b := &pbatch{seq: p.nextSeq}
		for i := range 1 + w.rng.IntN(3) {
			b.values = append(b.values, fmt.Sprintf("x%d.%d.%d", p.pid, p.sent, i))
		}
		p.sent++
		raw := make([][]byte, len(b.values))
		for i, v := range b.values {
			raw[i] = []byte(v)
		}
		data, err := record.BuildValues(record.Spec{FirstTimestamp: 1000, PartitionLeaderEpoch: -1, ProducerID: p.pid,
			ProducerEpoch: p.epoch, BaseSequence: p.nextSeq, Transactional: true}, raw...)
		if err != nil {
			panic(err)
		}
		b.data = data
		p.nextSeq += int32(len(raw))
		p.batches = append(p.batches, b)
		p.values = append(p.values, b.values...)
	}
}

// call sends one request to the leader and hands its answer (or a timeout) to answer.
func (p *txnProducer) call(do func(n *snode, reply func(ProduceResult)), answer func(res ProduceResult, timedOut bool)) {
	w := p.w
	if p.leader < 0 {
		if p.leader = w.ctrl.st.Leader; p.leader < 0 {
			return
		}
	}
	p.busy = true
	p.attempt++
	attempt, to := p.attempt, p.leader
	finish := func(res ProduceResult, timedOut bool) {
		if !p.busy || p.attempt != attempt {
			return
		}
		p.busy = false
		if timedOut || res.Err != CodeNone {
			p.leader = -1
		}
		answer(res, timedOut)
	}
	w.after(int64(300*time.Millisecond), func() { finish(ProduceResult{}, true) })
	if w.rng.Float64() < w.cfg.loss {
		return
	}
	w.at(w.clientHop(p.id, to), func() {
		n := w.node(to)
		if !n.alive || w.now < n.cutUntil {
			return
		}
		do(n, func(res ProduceResult) {
			if w.rng.Float64() < w.cfg.loss {
				return
			}
			w.at(w.clientHop(-p.id, to), func() { finish(res, false) })
		})
		w.pump(n)
	})
}

func (p *txnProducer) sendData(b *pbatch) {
	w := p.w
	data := slices.Clone(b.data)
	p.call(func(n *snode, reply func(ProduceResult)) {
		produceVouched(n.r, w.now, data, -1, 200*time.Millisecond, reply)
	}, func(res ProduceResult, timedOut bool) {
		switch {
		case timedOut:
		case res.Err == CodeNone || res.Err == CodeDuplicateSequenceNumber:
			p.acked++
		case res.Err == CodeOutOfOrderSequenceNumber || res.Err == CodeInvalidProducerEpoch:
			// The partition lost track of the producer: abort in a new epoch, as a
			// coordinator fences, and start the sequences again.
			w.tracef("txn producer %d: data refused (%d): fencing", p.pid, res.Err)
			p.phase, p.commit, p.fence = txnEnding, false, true
		case res.Err == CodeCorruptMessage || res.Err == CodeInvalidRecord:
			w.failf("txn producer %d: unexpected error %d", p.pid, res.Err)
		}
	})
}

func (p *txnProducer) sendMarker() {
	w := p.w
	m := Marker{ProducerID: p.pid, ProducerEpoch: p.epoch, Commit: p.commit, CoordinatorEpoch: p.coordEpoch}
	if p.fence {
		m.ProducerEpoch++
	}
	p.call(func(n *snode, reply func(ProduceResult)) {
		n.r.WriteMarker(w.now, m, 200*time.Millisecond, reply)
	}, func(res ProduceResult, timedOut bool) {
		switch {
		case timedOut:
		case res.Err == CodeNone:
			w.tracef("txn producer %d: %d values ended (commit %v, fence %v)", p.pid, len(p.values), p.commit, p.fence)
			if p.commit {
				w.txn.commits++
				for _, v := range p.values {
					w.txn.committed[v] = true
				}
			} else {
				w.txn.aborts++
			}
			if p.fence {
				w.txn.fences++
				p.epoch, p.nextSeq = m.ProducerEpoch, 0
			}
			p.phase = txnIdle
		case res.Err == CodeInvalidProducerEpoch || res.Err == CodeTransactionCoordinatorFenced:
			w.failf("txn producer %d: marker %+v refused with %d", p.pid, m, res.Err)
		}
	})
}

// rcConsumer reads with isolation level read_committed.
type rcConsumer struct {
	w      *world
	id     int64
	pos    int64
	lsoMax int64
	leader int32
}

func (c *rcConsumer) loop() {
	w := c.w
	if c.leader < 0 {
		c.leader = w.ctrl.st.Leader
	}
	if c.leader < 0 {
		w.after(int64(5*time.Millisecond), c.loop)
		return
	}
	to := c.leader
	done := false
	finish := func(fn func()) {
		if !done {
			done = true
			fn()
			w.after(w.dur(100*time.Microsecond, 3*time.Millisecond), c.loop)
		}
	}
	w.after(int64(300*time.Millisecond), func() { finish(func() { c.leader = -1 }) })
	req := FetchRequest{CurrentLeaderEpoch: -1, FetchOffset: c.pos, MaxBytes: int32(100 + w.rng.IntN(2000)),
		MinBytes: int32(w.rng.IntN(300)), MaxWait: time.Duration(w.rng.IntN(20)) * time.Millisecond, Isolation: 1}
	w.at(w.clientHop(c.id, to), func() {
		n := w.node(to)
		if !n.alive || w.now < n.cutUntil {
			return
		}
		n.r.Fetch(w.now, req, func(res FetchResult) {
			w.at(w.clientHop(-c.id, to), func() { finish(func() { c.fetched(res) }) })
		})
		w.pump(n)
	})
}

// fetched consumes a read_committed answer as Kafka's consumer does: the aborted
// transactions it lists, by first offset, mark their producer aborted from the first
// batch that reaches them until that producer's abort marker, and transactional batches
// of aborted producers are dropped.
func (c *rcConsumer) fetched(res FetchResult) {
	w := c.w
	switch res.Err {
	case CodeNone:
	case CodeOffsetOutOfRange:
		c.pos = max(res.LogStartOffset, 0)
		return
	default:
		c.leader = -1
		return
	}
	if res.LastStableOffset > res.HighWatermark || res.LastStableOffset < c.lsoMax || res.LastStableOffset < res.LogStartOffset {
		w.failf("read_committed consumer %d: last stable offset %d (high watermark %d, log start %d) after seeing %d",
			c.id, res.LastStableOffset, res.HighWatermark, res.LogStartOffset, c.lsoMax)
	}
	// A last stable offset raised to the log start is not counted: the log start can go
	// back across a failover (followers follow DeleteRecords lazily), and it with it. One
	// equal to the high watermark may be raised too: a transaction open below a log start
	// of 138 gives 138 with the high watermark at 138, and 112 at a new leader whose log
	// still starts at 112.
	if res.LastStableOffset > res.LogStartOffset {
		c.lsoMax = max(c.lsoMax, res.LastStableOffset)
	}
	w.tracef("rc%d fetched from %d: hw %d lso %d start %d aborted %v, %d bytes", c.id, c.pos, res.HighWatermark, res.LastStableOffset, res.LogStartOffset, res.Aborted, len(res.Records))
	pending := slices.Clone(res.Aborted)
	slices.SortStableFunc(pending, func(a, b AbortedTxn) int { return int(a.FirstOffset - b.FirstOffset) })
	aborted := map[int64]bool{}
	_, err := record.Split(res.Records, func(h record.Header, batch []byte) error {
		if h.NextOffset() > res.LastStableOffset {
			w.failf("read_committed consumer %d: batch [%d, %d] at or above the last stable offset %d", c.id, h.BaseOffset, h.LastOffset(), res.LastStableOffset)
		}
		for len(pending) > 0 && pending[0].FirstOffset <= h.LastOffset() {
			aborted[pending[0].ProducerID] = true
			pending = pending[1:]
		}
		if h.NextOffset() <= c.pos {
			return nil
		}
		c.pos = h.NextOffset()
		switch {
		case h.IsControl():
			if m := markerOf(batch); m.valid && !m.commit {
				delete(aborted, h.ProducerID)
			}
			return nil
		case h.IsTransactional() && aborted[h.ProducerID]:
			return nil
		}
		it, err := record.NewIter(batch, 1<<20)
		if err != nil {
			return err
		}
		for it.Next() {
			off, v := it.Offset(), string(it.Record().Value)
			if prev, ok := w.observed[off]; ok && prev != v {
				w.failf("consumers saw offset %d as %q and as %q", off, prev, v)
			}
			w.observed[off] = v
			if strings.HasPrefix(v, "x") {
				w.txn.delivered = append(w.txn.delivered, v)
			}
		}
		return it.Err()
	})
	if err != nil {
		w.failf("read_committed consumer %d: bad records: %v", c.id, err)
	}
}

// finalTxnChecks runs once the cluster converged.
func (w *world) finalTxnChecks() {
	if w.txn == nil {
		return
	}
	for _, v := range w.txn.delivered {
		if !w.txn.committed[v] {
			w.failf("a read_committed consumer delivered %q, which no committed transaction wrote", v)
			return
		}
	}
	l := w.node(w.ctrl.st.Leader)
	lg := l.d.logs[disk.PartitionLog("t", 0)]
	// The aborted transactions of the final log, from its batches.
	fresh := newProducerState(1 << 20)
	for _, b := range lg.batches {
		h, err := record.ParseHeader(b.data)
		if err != nil {
			w.failf("final log batch at %d: %v", b.base, err)
			return
		}
		fresh.applyBatch(h, h.BaseOffset, b.data)
	}
	from := lg.start
	for _, n := range w.nodes {
		from = max(from, n.r.startOffset)
	}
	// A replay from the log start cannot see a transaction's batches below it: it misses
	// the transaction, or takes the first batch left for its start. Those are compared by
	// producer and marker only.
	// Stable offsets depend on what each replay saw: compared are producer, first
	// offset and marker.
	freshAborted := fresh.takeAborted()
	for _, n := range w.nodes {
		type txn struct{ pid, first, marker int64 }
		var got, want, partial []txn
		listed := n.d.logs[disk.PartitionLog("t", 0)].abortedIn(0, math.MaxInt64)
		for _, a := range listed {
			t := txn{a.ProducerID, a.FirstOffset, a.MarkerOffset}
			switch {
			case t.marker < from:
			case t.first < lg.start:
				partial = append(partial, t)
			default:
				got = append(got, t)
			}
		}
		for _, a := range freshAborted {
			t := txn{a.ProducerID, a.FirstOffset, a.MarkerOffset}
			if t.marker >= from && !slices.ContainsFunc(partial, func(p txn) bool { return p.pid == t.pid && p.marker == t.marker }) {
				want = append(want, t)
			}
		}
		if !slices.Equal(got, want) {
			w.failf("node %d's disk lists aborted transactions %v (log start %d), the final log %v (start %d)", n.id, listed, n.r.startOffset, freshAborted, lg.start)
		}
		if len(n.r.producers.open) > 0 || n.r.lastStable() != n.r.hw {
			w.failf("node %d: open transactions %v at the end, last stable offset %d, high watermark %d", n.id, n.r.producers.open, n.r.lastStable(), n.r.hw)
		}
	}
}

// TestClusterTransactions runs the randomized cluster with transactional producers and
// read_committed consumers besides the usual clients.
func TestClusterTransactions(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 20
	}
	if *simSeeds > 0 {
		seeds = *simSeeds
	}
	var commits, aborts, fences, delivered int
	for seed := range uint64(seeds) {
		w := runWorld(seed, plant.Set{}, withTxns, false)
		if len(w.failures) > 0 {
			t.Fatalf("seed %d (%s):\n%s", seed, w.cfg, joinLines(w.failures))
		}
		commits, aborts, fences, delivered = commits+w.txn.commits, aborts+w.txn.aborts, fences+w.txn.fences, delivered+len(w.txn.delivered)
	}
	t.Logf("%d seeds: %d commits, %d aborts (%d fencing), %d transactional records delivered to read_committed consumers", seeds, commits, aborts, fences, delivered)
	if commits == 0 || aborts == 0 || delivered == 0 {
		t.Fatal("the workload did not exercise transactions")
	}
}

func withTxns(c *simConfig) { c.txnProducers, c.rcConsumers = 2, 2 }
