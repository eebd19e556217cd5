package group

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeLog is a Log that keeps durable batches (built with core/record) and completes
// appends when told, or at once (inside Append) when auto is set.
type fakeLog struct {
	t       testing.TB
	batches [][]byte // durable batches, in order
	next    int64    // offset of the next record
	auto    bool
	pending []*pendingAppend
	codec   record.Codec

	// Load behaviour.
	chunk      int  // batches per chunk handed to Load's callback (at least 1)
	manualLoad bool // keep Load's callbacks for finishLoad
	loadBatch  func([]byte)
	loadDone   func(error)
	appends    int // appends ever made
}

type pendingAppend struct {
	recs []KV
	done func(int64, error)
	// pid and epoch are the producer of a transactional append; pid is -1 for others.
	pid   int64
	epoch int16
}

func newFakeLog(t testing.TB) *fakeLog { return &fakeLog{t: t, auto: true, chunk: 1} }

func (l *fakeLog) Append(now int64, recs []KV, done func(int64, error)) {
	l.appends++
	l.pending = append(l.pending, &pendingAppend{recs: recs, done: done, pid: -1, epoch: -1})
	if l.auto {
		l.completeAll()
	}
}

func (l *fakeLog) AppendTxn(now int64, pid int64, epoch int16, _ any, recs []KV, done func(int64, error)) {
	l.appends++
	l.pending = append(l.pending, &pendingAppend{recs: recs, done: done, pid: pid, epoch: epoch})
	if l.auto {
		l.completeAll()
	}
}

// write makes recs durable and returns their base offset.
func (l *fakeLog) write(recs []KV) int64 {
	l.t.Helper()
	return l.writeTxn(-1, -1, recs)
}

// writeTxn makes recs durable as one batch of producer pid's transaction (pid >= 0) or
// as a plain batch (pid -1), and returns their base offset.
func (l *fakeLog) writeTxn(pid int64, epoch int16, recs []KV) int64 {
	l.t.Helper()
	krecs := make([]kmsg.Record, len(recs))
	for i, r := range recs {
		krecs[i] = kmsg.Record{Key: r.Key, Value: r.Value}
	}
	base := l.next
	spec := record.Spec{BaseOffset: base, Codec: l.codec}.NoProducer()
	if pid >= 0 {
		spec.ProducerID, spec.ProducerEpoch, spec.Transactional = pid, epoch, true
	}
	b, err := record.Build(spec, krecs)
	if err != nil {
		l.t.Fatalf("building a batch: %v", err)
	}
	l.batches = append(l.batches, b)
	l.next += int64(len(recs))
	return base
}

// complete makes the i-th pending append durable and reports it.
func (l *fakeLog) complete(i int) {
	l.t.Helper()
	p := l.take(i)
	p.done(l.writeTxn(p.pid, p.epoch, p.recs), nil)
}

// marker makes durable the control batch that ends producer pid's transaction, and
// returns its offset.
func (l *fakeLog) marker(pid int64, epoch int16, commit bool) int64 {
	l.t.Helper()
	at := l.next
	b, err := record.BuildEndTxn(record.Spec{BaseOffset: at, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1}, commit, 0)
	if err != nil {
		l.t.Fatalf("building a marker: %v", err)
	}
	l.batches = append(l.batches, b)
	l.next++
	return at
}

// fail reports the i-th pending append as failed, without writing it.
func (l *fakeLog) fail(i int, err error) {
	l.t.Helper()
	l.take(i).done(-1, err)
}

func (l *fakeLog) take(i int) *pendingAppend {
	l.t.Helper()
	if i >= len(l.pending) {
		l.t.Fatalf("no pending append %d (have %d)", i, len(l.pending))
	}
	p := l.pending[i]
	l.pending = append(l.pending[:i:i], l.pending[i+1:]...)
	return p
}

func (l *fakeLog) completeAll() {
	for len(l.pending) > 0 {
		l.complete(0)
	}
}

func (l *fakeLog) failAll(err error) {
	for len(l.pending) > 0 {
		l.fail(0, err)
	}
}

func (l *fakeLog) Load(now int64, batch func([]byte), done func(error)) {
	if l.manualLoad {
		l.loadBatch, l.loadDone = batch, done
		return
	}
	l.replay(batch, done)
}

func (l *fakeLog) finishLoad() {
	l.t.Helper()
	if l.loadDone == nil {
		l.t.Fatal("no load waiting")
	}
	batch, done := l.loadBatch, l.loadDone
	l.loadBatch, l.loadDone = nil, nil
	l.replay(batch, done)
}

// replay hands the durable batches over in chunks, in a buffer reused between chunks as
// a real log's reader would.
func (l *fakeLog) replay(batch func([]byte), done func(error)) {
	var buf []byte
	for i := 0; i < len(l.batches); i += max(l.chunk, 1) {
		buf = buf[:0]
		for _, b := range l.batches[i:min(i+max(l.chunk, 1), len(l.batches))] {
			buf = append(buf, b...)
		}
		batch(buf)
		for j := range buf {
			buf[j] = 0xEE // anything kept from the chunk is now garbage
		}
	}
	done(nil)
}

// records decodes every durable record.
func (l *fakeLog) records() []KV {
	l.t.Helper()
	var out []KV
	for _, b := range l.batches {
		if h, err := record.ParseHeader(b); err == nil && h.IsControl() {
			continue
		}
		recs, err := record.DecodeRecords(b, 1<<20)
		if err != nil {
			l.t.Fatalf("decoding our own batch: %v", err)
		}
		for _, r := range recs {
			out = append(out, KV{Key: r.Key, Value: r.Value})
		}
	}
	return out
}

// lastGroupRecord is the last durable group record of group, nil if none or a tombstone.
func (l *fakeLog) lastGroupRecord(group string) *kmsg.GroupMetadataValue {
	l.t.Helper()
	var last *kmsg.GroupMetadataValue
	for _, r := range l.records() {
		kind, id, _, err := decodeKey(r.Key)
		if err != nil {
			l.t.Fatal(err)
		}
		if kind != keyGroup || id != group {
			continue
		}
		last = nil
		if r.Value != nil {
			if last, err = decodeGroupValue(r.Value); err != nil {
				l.t.Fatal(err)
			}
		}
	}
	return last
}

// harness drives one Coordinator on a fakeLog with a virtual clock.
type harness struct {
	t   *testing.T
	cfg Config
	log *fakeLog
	c   *Coordinator
	now int64
	// session, when set, replaces the session timeout of every JoinGroup sent.
	session time.Duration
}

const (
	testSession   = 10 * time.Second
	testRebalance = 20 * time.Second
	testDelay     = 3 * time.Second
)

func testConfig() Config {
	cfg := DefaultConfig(7, rand.New(rand.NewPCG(1, 2)))
	cfg.InitialRebalanceDelay = testDelay
	return cfg
}

// deadline is the coordinator's Deadline, which must equal the one computed from
// scratch: a cached answer left stale by some input would delay or skip a Tick.
func (h *harness) deadline() int64 {
	h.t.Helper()
	d := h.c.Deadline()
	if want := h.c.nextDeadline(); d != want {
		h.t.Fatalf("Deadline %d, computed from the groups %d", d, want)
	}
	return d
}

func newHarness(t *testing.T) *harness { return newHarnessConfig(t, testConfig()) }

func newHarnessConfig(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, cfg: cfg, log: newFakeLog(t), now: int64(time.Hour)}
	h.c = NewCoordinator(h.now, cfg, h.log)
	if p := h.c.Status().Phase; p != "serving" {
		t.Fatalf("coordinator phase %s after loading an empty log", p)
	}
	return h
}

// failover closes the coordinator and starts a new one on the same log, as a new leader
// of the partition would, with cfg.
func (h *harness) failover(cfg Config) {
	h.c.Close()
	h.log.pending = nil
	h.c = NewCoordinator(h.now, cfg, h.log)
}

// run advances the clock to now+d, running every timer on the way at its deadline.
func (h *harness) run(d time.Duration) {
	h.t.Helper()
	target := h.now + int64(d)
	for i := 0; ; i++ {
		if i > 10000 {
			h.t.Fatal("timers do not settle")
		}
		dl := h.deadline()
		if dl > target {
			break
		}
		h.now = max(h.now, dl)
		h.c.Tick(h.now)
		if h.c.Deadline() == dl && dl <= h.now && i > 100 {
			h.t.Fatalf("deadline %d stuck after Tick", dl)
		}
	}
	h.now = target
	h.c.Tick(h.now)
}

// runUntil advances the clock in steps of 100 ms until done holds, for at most a minute.
func (h *harness) runUntil(done func() bool) {
	h.t.Helper()
	for start := h.now; !done(); {
		if h.now-start > int64(time.Minute) {
			h.t.Fatal("condition not reached within a minute")
		}
		h.run(100 * time.Millisecond)
	}
}

// call captures the replies to one request and checks there is exactly one.
type call[T any] struct {
	t     testing.TB
	resp  T
	count int
}

func (c *call[T]) reply(r T) {
	c.count++
	if c.count > 1 {
		c.t.Errorf("request answered %d times", c.count)
	}
	c.resp = r
}

func (c *call[T]) answered() bool { return c.count > 0 }

func (c *call[T]) get() T {
	c.t.Helper()
	if c.count == 0 {
		c.t.Fatal("request not answered")
	}
	return c.resp
}

type joinCall = call[*kmsg.JoinGroupResponse]
type syncCall = call[*kmsg.SyncGroupResponse]

// joinReq is a consumer's JoinGroup v9 with the given protocols (default: range with
// metadata "sub").
func joinReq(group, memberID string, protocols ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = int32(testSession / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(testRebalance / time.Millisecond)
	req.ProtocolType = "consumer"
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	for _, p := range protocols {
		req.Protocols = append(req.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte("sub-" + p)})
	}
	return req
}

func (h *harness) join(req *kmsg.JoinGroupRequest) *joinCall {
	if h.session != 0 {
		req.SessionTimeoutMillis = int32(h.session / time.Millisecond)
	}
	jc := &joinCall{t: h.t}
	h.c.JoinGroup(h.now, req, "client", "/10.0.0.1", jc.reply)
	return jc
}

// joinNew does a new dynamic member's first JoinGroup (answered MEMBER_ID_REQUIRED) and
// returns its second, which waits for the join phase.
func (h *harness) joinNew(group string, protocols ...string) (string, *joinCall) {
	h.t.Helper()
	first := h.join(joinReq(group, "", protocols...)).get()
	if first.ErrorCode != codeMemberIDRequired || first.MemberID == "" {
		h.t.Fatalf("first join: code %d member %q, want MEMBER_ID_REQUIRED with an id", first.ErrorCode, first.MemberID)
	}
	return first.MemberID, h.join(joinReq(group, first.MemberID, protocols...))
}

func syncReq(group, memberID string, generation int32, assign map[string]string) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	for _, id := range sortedKeys(assign) {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{
			MemberID: id, MemberAssignment: []byte(assign[id])})
	}
	return req
}

func (h *harness) sync(req *kmsg.SyncGroupRequest) *syncCall {
	sc := &syncCall{t: h.t}
	h.c.SyncGroup(h.now, req, sc.reply)
	return sc
}

func (h *harness) heartbeat(group, memberID string, generation int32) int16 {
	h.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	hc := &call[*kmsg.HeartbeatResponse]{t: h.t}
	h.c.Heartbeat(h.now, req, hc.reply)
	return hc.get().ErrorCode
}

func (h *harness) heartbeatStatic(group, memberID, instance string, generation int32) int16 {
	h.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	req.InstanceID = &instance
	hc := &call[*kmsg.HeartbeatResponse]{t: h.t}
	h.c.Heartbeat(h.now, req, hc.reply)
	return hc.get().ErrorCode
}

func (h *harness) leave(group string, memberIDs ...string) *kmsg.LeaveGroupResponse {
	h.t.Helper()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 5
	req.Group = group
	for _, id := range memberIDs {
		req.Members = append(req.Members, kmsg.LeaveGroupRequestMember{MemberID: id})
	}
	lc := &call[*kmsg.LeaveGroupResponse]{t: h.t}
	h.c.LeaveGroup(h.now, req, lc.reply)
	return lc.get()
}

// commitReq commits offset for topic "t" partition p (metadata "m", leader epoch 5).
func commitReq(group, memberID string, generation int32, offsets map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 8
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	t := kmsg.OffsetCommitRequestTopic{Topic: "t"}
	for _, p := range sortedKeys(offsets) {
		md := "m"
		t.Partitions = append(t.Partitions, kmsg.OffsetCommitRequestTopicPartition{
			Partition: p, Offset: offsets[p], LeaderEpoch: 5, Metadata: &md})
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{t}
	return req
}

type commitCall = call[*kmsg.OffsetCommitResponse]

func (h *harness) commit(req *kmsg.OffsetCommitRequest) *commitCall {
	cc := &commitCall{t: h.t}
	h.c.OffsetCommit(h.now, req, cc.reply)
	return cc
}

// commitCodes lists the codes of a commit response in request order.
func commitCodes(resp *kmsg.OffsetCommitResponse) []int16 {
	var out []int16
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.ErrorCode)
		}
	}
	return out
}

// fetch reads the committed offset of topic "t" partition p.
func (h *harness) fetch(group string, p int32, requireStable bool) kmsg.OffsetFetchResponseGroupTopicPartition {
	h.t.Helper()
	fc := &call[kmsg.OffsetFetchResponseGroup]{t: h.t}
	topics := []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{p}}}
	h.c.OffsetFetch(h.now, group, topics, requireStable, fc.reply)
	resp := fc.get()
	if resp.ErrorCode != codeNone {
		h.t.Fatalf("fetch: group error %d", resp.ErrorCode)
	}
	return resp.Topics[0].Partitions[0]
}

func (h *harness) group(id string) GroupStatus {
	h.t.Helper()
	for _, g := range h.c.Status().Groups {
		if g.ID == id {
			return g
		}
	}
	h.t.Fatalf("no group %q", id)
	return GroupStatus{}
}

func (h *harness) hasGroup(id string) bool {
	for _, g := range h.c.Status().Groups {
		if g.ID == id {
			return true
		}
	}
	return false
}

// stableGroup forms group with n dynamic members through the initial delay; the leader
// assigns "p<i>" to the i-th member by join order. It returns the member ids in join
// order and the generation.
func (h *harness) stableGroup(group string, n int) ([]string, int32) {
	h.t.Helper()
	var ids []string
	var calls []*joinCall
	for range n {
		id, jc := h.joinNew(group)
		ids = append(ids, id)
		calls = append(calls, jc)
	}
	h.runUntil(func() bool { return calls[len(calls)-1].answered() })
	return ids, h.syncAll(group, ids, calls)
}

// syncAll checks the join answers and has every member sync, the leader assigning
// "p<i>" to ids[i]. It returns the generation.
func (h *harness) syncAll(group string, ids []string, calls []*joinCall) int32 {
	h.t.Helper()
	gen := calls[0].get().Generation
	leader := calls[0].get().LeaderID
	assign := map[string]string{}
	for i, id := range ids {
		resp := calls[i].get()
		if resp.ErrorCode != codeNone || resp.Generation != gen {
			h.t.Fatalf("join of %s: code %d generation %d, want 0 and %d", id, resp.ErrorCode, resp.Generation, gen)
		}
		assign[id] = fmt.Sprintf("p%d", i)
	}
	for _, id := range ids {
		var a map[string]string
		if id == leader {
			a = assign
		}
		h.sync(syncReq(group, id, gen, a))
	}
	if st := h.group(group); st.State != "Stable" || st.Generation != gen {
		h.t.Fatalf("group %s %s generation %d after sync, want Stable %d", group, st.State, st.Generation, gen)
	}
	return gen
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

var errTimeout = errors.New("fake: timed out")

func wantCode(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Errorf("%s: code %d (%v), want %d (%v)", what, got, codeName(got), want, codeName(want))
	}
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}
