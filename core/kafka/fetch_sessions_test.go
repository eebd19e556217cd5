package kafka

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionBroker is a broker with a fetch session cache of slots sessions, hosting the
// three partitions of "orders" (topic id 1), each answering high watermark 42 and no
// records until a test says otherwise.
func sessionBroker(t *testing.T, slots int) (*fakeBroker, []*fakeReplica) {
	b := newFakeBroker(t)
	b.sessions = NewFetchSessions(slots, rand.New(rand.NewPCG(1, 2)))
	b.principal = "User:alice"
	return b, hostOrders(b)
}

var ordersID = [16]byte{1}

// sfetch is one fetch of "orders" at version: session id and epoch, the partitions named
// (partition -> fetch offset) and the partitions forgotten.
type sfetch struct {
	version  int16
	id       int32
	epoch    int32
	parts    map[int32]int64
	forget   []int32
	maxBytes int32
}

func (f sfetch) do(t *testing.T, b *fakeBroker) *kmsg.FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(f.version)
	req.ReplicaID, req.MaxBytes, req.MinBytes = -1, 1<<20, 0
	if f.maxBytes > 0 {
		req.MaxBytes = f.maxBytes
	}
	req.SessionID, req.SessionEpoch = f.id, f.epoch
	if len(f.parts) > 0 {
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "orders", ordersID
		for _, p := range slices.Sorted(mapKeys(f.parts)) {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = p, f.parts[p], -1, 1<<20
			ft.Partitions = append(ft.Partitions, fp)
		}
		req.Topics = append(req.Topics, ft)
	}
	if len(f.forget) > 0 {
		req.ForgottenTopics = append(req.ForgottenTopics, kmsg.FetchRequestForgottenTopic{Topic: "orders", TopicID: ordersID, Partitions: f.forget})
	}
	r := &replies{t: t}
	Fetch(b, viaWire(t, req), r.reply)
	resp := fetched(t, r.one())
	checkWire(t, resp)
	return resp
}

func mapKeys(m map[int32]int64) func(func(int32) bool) {
	return func(yield func(int32) bool) {
		for k := range m { // order-independent: sorted by the caller
			if !yield(k) {
				return
			}
		}
	}
}

// answered lists the partitions of "orders" a response lists, in order.
func answered(t *testing.T, resp *kmsg.FetchResponse) []int32 {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("response error %d", resp.ErrorCode)
	}
	var ps []int32
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			ps = append(ps, p.Partition)
		}
	}
	return ps
}

func all3() map[int32]int64 { return map[int32]int64{0: 0, 1: 0, 2: 0} }

// A full fetch with epoch 0 creates a session and answers every partition with its id;
// incremental fetches then answer only the partitions with something new: a moved high
// watermark, records, an error, and again once an error clears.
func TestFetchSessionAnswersOnlyWhatChanged(t *testing.T) {
	b, reps := sessionBroker(t, 10)
	resp := sfetch{version: 12, epoch: 0, parts: all3()}.do(t, b)
	if resp.SessionID == 0 || !slices.Equal(answered(t, resp), []int32{0, 1, 2}) {
		t.Fatalf("full fetch: session %d, partitions %v", resp.SessionID, answered(t, resp))
	}
	id := resp.SessionID
	if got := answered(t, sfetch{version: 12, id: id, epoch: 1}.do(t, b)); len(got) != 0 {
		t.Fatalf("nothing changed, but %v answered", got)
	}
	reps[1].hw = 50
	if got := answered(t, sfetch{version: 12, id: id, epoch: 2}.do(t, b)); !slices.Equal(got, []int32{1}) {
		t.Fatalf("partition 1's high watermark moved: %v answered", got)
	}
	reps[2].batches = []int{100}
	resp = sfetch{version: 12, id: id, epoch: 3}.do(t, b)
	if got := answered(t, resp); !slices.Equal(got, []int32{2}) || len(resp.Topics[0].Partitions[0].RecordBatches) != 100 {
		t.Fatalf("partition 2 has records: %v answered", got)
	}
	reps[2].batches = nil
	reps[0].err = codeNotLeaderOrFollower
	for epoch := int32(4); epoch <= 5; epoch++ {
		if got := answered(t, sfetch{version: 12, id: id, epoch: epoch}.do(t, b)); !slices.Equal(got, []int32{0}) {
			t.Fatalf("epoch %d: partition 0 fails: %v answered", epoch, got)
		}
	}
	reps[0].err = 0
	if got := answered(t, sfetch{version: 12, id: id, epoch: 6}.do(t, b)); !slices.Equal(got, []int32{0}) {
		t.Fatalf("partition 0's error cleared: %v answered", got)
	}
	if got := answered(t, sfetch{version: 12, id: id, epoch: 7}.do(t, b)); len(got) != 0 {
		t.Fatalf("nothing changed, but %v answered", got)
	}
	if s := b.sessions.Stats(); s.Sessions != 1 || s.Partitions != 3 || s.Created != 1 || s.Incremental != 7 {
		t.Fatalf("stats %+v", s)
	}
}

// Incremental fetches add partitions, update their fetch offsets and forget them; a
// session whose partitions are all forgotten closes.
func TestFetchSessionAddUpdateForget(t *testing.T) {
	b, reps := sessionBroker(t, 10)
	id := sfetch{version: 13, epoch: 0, parts: map[int32]int64{0: 5}}.do(t, b).SessionID
	resp := sfetch{version: 13, id: id, epoch: 1, parts: map[int32]int64{0: 7, 2: 3}}.do(t, b)
	if got := answered(t, resp); !slices.Equal(got, []int32{2}) {
		t.Fatalf("partition 2 added: %v answered", got)
	}
	if resp.Topics[0].TopicID != ordersID {
		t.Fatalf("v13 answers by topic id, got %x", resp.Topics[0].TopicID)
	}
	if got := reps[0].fetches[len(reps[0].fetches)-1].FetchOffset; got != 7 {
		t.Fatalf("partition 0 read at %d, want its updated offset 7", got)
	}
	if got := reps[2].fetches[0].FetchOffset; got != 3 {
		t.Fatalf("partition 2 read at %d", got)
	}
	sfetch{version: 13, id: id, epoch: 2, forget: []int32{0}}.do(t, b)
	n0, n2 := len(reps[0].fetches), len(reps[2].fetches)
	sfetch{version: 13, id: id, epoch: 3}.do(t, b)
	if len(reps[0].fetches) != n0 || len(reps[2].fetches) != n2+1 {
		t.Fatalf("after forgetting partition 0: reads %d -> %d of 0, %d -> %d of 2", n0, len(reps[0].fetches), n2, len(reps[2].fetches))
	}
	if got := reps[2].fetches[len(reps[2].fetches)-1].FetchOffset; got != 3 {
		t.Fatalf("partition 2 read at %d, want the session's 3", got)
	}
	resp = sfetch{version: 13, id: id, epoch: 4, forget: []int32{2}}.do(t, b)
	if resp.SessionID != 0 || b.sessions.Stats().Sessions != 0 {
		t.Fatalf("the session's last partition forgotten: answered session %d, %d sessions", resp.SessionID, b.sessions.Stats().Sessions)
	}
}

// A wrong epoch is INVALID_FETCH_SESSION_EPOCH and leaves the session as it was; an
// unknown id is FETCH_SESSION_ID_NOT_FOUND; a session of names used at v13, or of ids
// below, is FETCH_SESSION_TOPIC_ID_ERROR; epoch -1 with the id closes the session and
// fetches in full without one.
func TestFetchSessionErrors(t *testing.T) {
	b, reps := sessionBroker(t, 10)
	id := sfetch{version: 12, epoch: 0, parts: all3()}.do(t, b).SessionID
	for _, epoch := range []int32{2, 0x7fffffff, -2} {
		resp := sfetch{version: 12, id: id, epoch: epoch, parts: map[int32]int64{0: 9}}.do(t, b)
		if resp.ErrorCode != codeInvalidFetchSessionEpoch || len(resp.Topics) != 0 {
			t.Fatalf("epoch %d: code %d, %d topics", epoch, resp.ErrorCode, len(resp.Topics))
		}
	}
	reps[1].hw = 60
	if got := answered(t, sfetch{version: 12, id: id, epoch: 1}.do(t, b)); !slices.Equal(got, []int32{1}) {
		t.Fatalf("the right epoch after wrong ones: %v answered", got)
	}
	if got := reps[0].fetches[len(reps[0].fetches)-1].FetchOffset; got != 0 {
		t.Fatalf("a refused fetch updated partition 0's offset to %d", got)
	}
	if code := (sfetch{version: 12, id: id + 1, epoch: 2}).do(t, b).ErrorCode; code != codeFetchSessionIDNotFound {
		t.Fatalf("unknown id: code %d", code)
	}
	if code := (sfetch{version: 13, id: id, epoch: 2}).do(t, b).ErrorCode; code != codeFetchSessionTopicIDError {
		t.Fatalf("a name session at v13: code %d", code)
	}
	if got := answered(t, sfetch{version: 12, id: id, epoch: 2}.do(t, b)); len(got) != 0 {
		t.Fatalf("refusals moved the session: %v answered", got)
	}
	resp := sfetch{version: 12, id: id, epoch: -1, parts: all3()}.do(t, b)
	if resp.SessionID != 0 || len(answered(t, resp)) != 3 {
		t.Fatalf("epoch -1: session %d, partitions %v", resp.SessionID, answered(t, resp))
	}
	if code := (sfetch{version: 12, id: id, epoch: 3}).do(t, b).ErrorCode; code != codeFetchSessionIDNotFound {
		t.Fatalf("a closed session: code %d", code)
	}
	idIDs := sfetch{version: 13, epoch: 0, parts: all3()}.do(t, b).SessionID
	if code := (sfetch{version: 12, id: idIDs, epoch: 1}).do(t, b).ErrorCode; code != codeFetchSessionTopicIDError {
		t.Fatalf("an id session at v12: code %d", code)
	}
	// Below v7 there are no sessions on the wire.
	if resp := (sfetch{version: 6, parts: all3()}).do(t, b); resp.SessionID != 0 || len(answered(t, resp)) != 3 {
		t.Fatalf("v6: session %d", resp.SessionID)
	}
}

// A session belongs to the principal that created it: another one naming its id finds
// nothing and cannot close it.
func TestFetchSessionBelongsToItsPrincipal(t *testing.T) {
	b, _ := sessionBroker(t, 10)
	id := sfetch{version: 12, epoch: 0, parts: all3()}.do(t, b).SessionID
	b.principal = "User:mallory"
	if code := (sfetch{version: 12, id: id, epoch: 1}).do(t, b).ErrorCode; code != codeFetchSessionIDNotFound {
		t.Fatalf("another principal's incremental fetch: code %d", code)
	}
	if resp := (sfetch{version: 12, id: id, epoch: -1, parts: all3()}).do(t, b); resp.SessionID != 0 {
		t.Fatalf("another principal's closing fetch answered session %d", resp.SessionID)
	}
	b.principal = "User:alice"
	if resp := (sfetch{version: 12, id: id, epoch: 1}).do(t, b); resp.ErrorCode != 0 || resp.SessionID != id {
		t.Fatalf("the owner's session after another's attempts: code %d, session %d", resp.ErrorCode, resp.SessionID)
	}
}

// The cache holds at most its slots: a new session finds room only by evicting, as in
// Kafka, the least recently used session once idle for two minutes, or else the
// smallest session created more than two minutes ago when the new one is larger.
func TestFetchSessionCacheBoundAndEviction(t *testing.T) {
	b, _ := sessionBroker(t, 2)
	small := sfetch{version: 12, epoch: 0, parts: map[int32]int64{0: 0}}.do(t, b).SessionID
	two := sfetch{version: 12, epoch: 0, parts: map[int32]int64{0: 0, 1: 0}}.do(t, b).SessionID
	if small == 0 || two == 0 {
		t.Fatalf("sessions %d and %d", small, two)
	}
	if id := (sfetch{version: 12, epoch: 0, parts: all3()}).do(t, b).SessionID; id != 0 {
		t.Fatalf("a third session in two slots: %d", id)
	}
	// Three minutes on, both were used a minute ago: none is idle, and the larger new
	// session evicts the smallest old one.
	b.tick(2 * time.Minute)
	sfetch{version: 12, id: small, epoch: 1}.do(t, b)
	sfetch{version: 12, id: two, epoch: 1}.do(t, b)
	b.tick(time.Minute)
	if id := (sfetch{version: 12, epoch: 0, parts: map[int32]int64{2: 0}}).do(t, b).SessionID; id != 0 {
		t.Fatalf("a session no larger than any evicted one: %d", id)
	}
	three := sfetch{version: 12, epoch: 0, parts: all3()}.do(t, b).SessionID
	if three == 0 {
		t.Fatal("a larger session found no room")
	}
	if code := (sfetch{version: 12, id: small, epoch: 2}).do(t, b).ErrorCode; code != codeFetchSessionIDNotFound {
		t.Fatalf("the smallest session was not evicted: code %d", code)
	}
	// A session idle more than two minutes goes for any new one.
	b.tick(90 * time.Second)
	sfetch{version: 12, id: three, epoch: 1}.do(t, b)
	b.tick(90 * time.Second)
	if id := (sfetch{version: 12, epoch: 0, parts: map[int32]int64{2: 0}}).do(t, b).SessionID; id == 0 {
		t.Fatal("no room made by the idle session")
	}
	if code := (sfetch{version: 12, id: two, epoch: 2}).do(t, b).ErrorCode; code != codeFetchSessionIDNotFound {
		t.Fatalf("the idle session was not evicted: code %d", code)
	}
	if s := b.sessions.Stats(); s.Sessions != 2 || s.Evicted != 2 || s.NoRoom != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// A session holds at most FetchSessionPartitionsMax partitions: a full fetch of more
// gets none, and an incremental fetch that would pass it closes its session and is
// answered in full without one.
func TestFetchSessionPartitionsBound(t *testing.T) {
	b, _ := sessionBroker(t, 10)
	many := map[int32]int64{}
	for p := range int32(FetchSessionPartitionsMax + 1) {
		many[p] = 0
	}
	if resp := (sfetch{version: 12, epoch: 0, parts: many}).do(t, b); resp.SessionID != 0 || len(answered(t, resp)) != len(many) {
		t.Fatalf("a full fetch of %d partitions: session %d", len(many), resp.SessionID)
	}
	delete(many, FetchSessionPartitionsMax)
	id := sfetch{version: 12, epoch: 0, parts: many}.do(t, b).SessionID
	if id == 0 {
		t.Fatal("no session for the most partitions allowed")
	}
	resp := sfetch{version: 12, id: id, epoch: 1, parts: map[int32]int64{FetchSessionPartitionsMax: 0}}.do(t, b)
	if resp.SessionID != 0 || len(answered(t, resp)) != FetchSessionPartitionsMax+1 {
		t.Fatalf("past the bound: session %d, %d partitions", resp.SessionID, len(answered(t, resp)))
	}
	if s := b.sessions.Stats(); s.Sessions != 0 || s.Partitions != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A session's partitions that returned records go to the end of its order, so that a
// byte budget spent by the first partitions reaches the others on the next fetch.
func TestFetchSessionRotatesPartitionsWithRecords(t *testing.T) {
	b, reps := sessionBroker(t, 10)
	for _, r := range reps {
		r.batches = []int{400}
	}
	resp := sfetch{version: 12, epoch: 0, parts: all3(), maxBytes: 500}.do(t, b)
	id := resp.SessionID
	if got := recordBytes(resp); !slices.Equal(got, []int{400, 0, 0}) {
		t.Fatalf("full fetch record bytes %v", got)
	}
	// The session was created in request order: partition 0 read first again.
	resp = sfetch{version: 12, id: id, epoch: 1, maxBytes: 500}.do(t, b)
	if got := answered(t, resp); !slices.Equal(got, []int32{0}) {
		t.Fatalf("first incremental answered %v", got)
	}
	resp = sfetch{version: 12, id: id, epoch: 2, maxBytes: 500}.do(t, b)
	if got := answered(t, resp); !slices.Equal(got, []int32{1}) {
		t.Fatalf("partition 0 went to the end: %v answered, want partition 1", got)
	}
}

// A fetch whose records a quota throttle dropped (the node empties the response after
// the handler answered) leaves the session's offsets where the client keeps them: the
// next incremental fetch reads the same records again and answers them.
func TestFetchSessionThrottledRecordsComeBack(t *testing.T) {
	b, reps := sessionBroker(t, 10)
	id := sfetch{version: 12, epoch: 0, parts: all3()}.do(t, b).SessionID
	reps[0].batches = []int{100}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 1<<20, id, 1
	var throttled *kmsg.FetchResponse
	Fetch(b, req, func(r kmsg.Response) {
		a := r.(*FetchAnswer)
		a.DropRecords()
		throttled = fetched(t, a)
	})
	if got := answered(t, throttled); !slices.Equal(got, []int32{0}) {
		t.Fatalf("throttled fetch answered %v", got)
	}
	resp := sfetch{version: 12, id: id, epoch: 2}.do(t, b)
	if got := answered(t, resp); !slices.Equal(got, []int32{0}) || len(resp.Topics[0].Partitions[0].RecordBatches) != 100 {
		t.Fatalf("after the throttle: %v answered", got)
	}
	for _, f := range reps[0].fetches {
		if f.FetchOffset != 0 {
			t.Fatalf("partition 0 read at %d, past what the client got", f.FetchOffset)
		}
	}
}

// A session of names holds no name longer than any topic may have (249 bytes): a full
// fetch naming one creates no session, and an incremental fetch adding one closes its
// session and is answered in full without one.
func TestFetchSessionRefusesLongNames(t *testing.T) {
	b, _ := sessionBroker(t, 10)
	long := strings.Repeat("x", topicNameMax+1)
	fetch := func(id, epoch int32, topic string) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.ReplicaID, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 1<<20, id, epoch
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		ft.Partitions = []kmsg.FetchRequestTopicPartition{kmsg.NewFetchRequestTopicPartition()}
		req.Topics = append(req.Topics, ft)
		r := &replies{t: t}
		Fetch(b, viaWire(t, req), r.reply)
		return fetched(t, r.one())
	}
	if resp := fetch(0, 0, long); resp.SessionID != 0 || resp.ErrorCode != 0 {
		t.Fatalf("a full fetch of a long name: session %d, code %d", resp.SessionID, resp.ErrorCode)
	}
	id := fetch(0, 0, "orders").SessionID
	resp := fetch(id, 1, long)
	if resp.SessionID != 0 || len(resp.Topics) != 2 || resp.Topics[1].Partitions[0].ErrorCode != codeUnknownTopicOrPartition {
		t.Fatalf("an incremental fetch adding a long name: session %d, topics %+v", resp.SessionID, resp.Topics)
	}
	if s := b.sessions.Stats(); s.Sessions != 0 || s.Partitions != 0 {
		t.Fatalf("stats %+v", s)
	}
}
