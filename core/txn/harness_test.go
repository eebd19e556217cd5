package txn

import (
	"errors"
	"fmt"
	"math"
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
	next    int64
	auto    bool
	pending []*pendingAppend

	manualLoad bool // keep Load's callbacks for finishLoad
	loadBatch  func([]byte)
	loadDone   func(error)
	loadErr    error // handed to Load's done
	appends    int
}

type pendingAppend struct {
	recs []KV
	done func(int64, error)
}

func newFakeLog(t testing.TB) *fakeLog { return &fakeLog{t: t, auto: true} }

func (l *fakeLog) Append(now int64, recs []KV, done func(int64, error)) {
	l.appends++
	l.pending = append(l.pending, &pendingAppend{recs: recs, done: done})
	if l.auto {
		l.completeAll()
	}
}

// write makes recs durable and returns their base offset.
func (l *fakeLog) write(recs []KV) int64 {
	l.t.Helper()
	krecs := make([]kmsg.Record, len(recs))
	for i, r := range recs {
		krecs[i] = kmsg.Record{Key: r.Key, Value: r.Value}
	}
	base := l.next
	b, err := record.Build(record.Spec{BaseOffset: base}.NoProducer(), krecs)
	if err != nil {
		l.t.Fatalf("building a batch: %v", err)
	}
	l.batches = append(l.batches, b)
	l.next += int64(len(recs))
	return base
}

func (l *fakeLog) complete(i int) {
	l.t.Helper()
	p := l.take(i)
	p.done(l.write(p.recs), nil)
}

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

// replay hands each durable batch over in a buffer reused between batches, as a real
// log's reader would.
func (l *fakeLog) replay(batch func([]byte), done func(error)) {
	var buf []byte
	for _, b := range l.batches {
		buf = append(buf[:0], b...)
		batch(buf)
		for j := range buf {
			buf[j] = 0xEE // anything kept from the chunk is now garbage
		}
	}
	done(l.loadErr)
}

// last is the last durable record of txnID; ok is false when there is none or the last
// is a tombstone.
func (l *fakeLog) last(txnID string) (rec txnRecord, ok bool) {
	l.t.Helper()
	for _, b := range l.batches {
		recs, err := record.DecodeRecords(b, 1<<20)
		if err != nil {
			l.t.Fatalf("decoding our own batch: %v", err)
		}
		for _, r := range recs {
			id, known, err := decodeKey(r.Key)
			if err != nil || !known || id != txnID {
				continue // not ours (the fuzz tests write such records)
			}
			ok = r.Value != nil
			if ok {
				if rec, err = decodeValue(r.Value); err != nil {
					ok = false
				}
			}
		}
	}
	return rec, ok
}

// ids are the transactional ids with a durable record, in the order first written.
func (l *fakeLog) ids() []string {
	l.t.Helper()
	var out []string
	seen := map[string]bool{}
	for _, b := range l.batches {
		recs, err := record.DecodeRecords(b, 1<<20)
		if err != nil {
			l.t.Fatal(err)
		}
		for _, r := range recs {
			id, _, _ := decodeKey(r.Key)
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// fakeMarkers is Config.SendMarkers: it records each round, answers it at once with
// code's answer per partition when auto is set, or keeps it for answer. Every round is
// checked against the durable log the way the simulator's checker does: markers may
// only go out for an end that is durable.
type fakeMarkers struct {
	h       *harness
	auto    bool
	code    func(MarkerRequest, TopicPartition) int16 // nil: 0
	sent    []MarkerRequest
	pending []pendingMarkers
}

type pendingMarkers struct {
	req  MarkerRequest
	done func([]int16)
}

func (m *fakeMarkers) send(now int64, req MarkerRequest, done func([]int16)) {
	m.h.checkMarkers(req)
	m.sent = append(m.sent, req)
	m.pending = append(m.pending, pendingMarkers{req, done})
	if m.auto {
		m.answerAll()
	}
}

func (m *fakeMarkers) answerAll() {
	for len(m.pending) > 0 {
		p := m.pending[0]
		m.pending = m.pending[1:]
		codes := make([]int16, len(p.req.Partitions))
		if m.code != nil {
			for i, tp := range p.req.Partitions {
				codes[i] = m.code(p.req, tp)
			}
		}
		p.done(codes)
	}
}

// fakePIDs is Config.NewProducerID: ids from 1000 up, at once unless manual.
type fakePIDs struct {
	next    int64
	manual  bool
	code    int16
	waiting []func(int64, int16)
}

func (p *fakePIDs) newID(reply func(int64, int16)) {
	p.waiting = append(p.waiting, reply)
	if !p.manual {
		p.answerAll()
	}
}

func (p *fakePIDs) answerAll() {
	for len(p.waiting) > 0 {
		r := p.waiting[0]
		p.waiting = p.waiting[1:]
		if p.code != 0 {
			r(-1, p.code)
			continue
		}
		id := p.next
		p.next++
		r(id, 0)
	}
}

// harness drives one Coordinator on a fakeLog with a virtual clock.
type harness struct {
	t          *testing.T
	cfg        Config
	log        *fakeLog
	markers    *fakeMarkers
	pids       *fakePIDs
	c          *Coordinator
	now        int64
	events     []Event
	violations []string
	// allowViolations: the test looks for violations itself (plant scenarios).
	allowViolations bool
}

const testPartition, testEpoch = 3, 7

func testConfig() Config {
	cfg := DefaultConfig(testPartition, testEpoch)
	return cfg
}

func newHarness(t *testing.T) *harness { return newHarnessConfig(t, testConfig()) }

// newHarnessConfig starts a coordinator on an empty log; cfg's NewProducerID,
// SendMarkers and Events are the harness's.
func newHarnessConfig(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, log: newFakeLog(t), now: int64(time.Hour)}
	h.markers = &fakeMarkers{h: h, auto: true}
	h.pids = &fakePIDs{next: 1000}
	h.cfg = h.wire(cfg)
	h.c = NewCoordinator(h.now, h.cfg, h.log)
	if p := h.c.Phase(); p != "serving" {
		t.Fatalf("coordinator phase %s after loading an empty log", p)
	}
	t.Cleanup(func() {
		if len(h.violations) > 0 && !h.allowViolations {
			t.Errorf("violations: %v", h.violations)
		}
	})
	return h
}

func (h *harness) wire(cfg Config) Config {
	cfg.NewProducerID = h.pids.newID
	cfg.SendMarkers = h.markers.send
	cfg.Events = func(e Event) { h.events = append(h.events, e) }
	return cfg
}

// checkMarkers is the durability promise: a marker round goes out only for a
// transaction whose Prepare* record with that producer id, epoch and outcome is the last
// durable record of its id.
func (h *harness) checkMarkers(req MarkerRequest) {
	want := statePrepareAbort
	if req.Commit {
		want = statePrepareCommit
	}
	for _, id := range h.log.ids() {
		if rec, ok := h.log.last(id); ok && rec.pid == req.ProducerID && rec.epoch == req.ProducerEpoch && rec.state == want {
			return
		}
	}
	h.violations = append(h.violations, fmt.Sprintf("markers (commit %v) sent for producer %d epoch %d, whose %s record is not durable",
		req.Commit, req.ProducerID, req.ProducerEpoch, want))
}

// failover closes the coordinator and starts a new one on the same log, as a new leader
// of the partition would, with coordinator epoch epoch.
func (h *harness) failover(epoch int32) {
	h.c.Close()
	h.log.pending = nil
	h.markers.pending = nil
	h.cfg.CoordinatorEpoch = epoch
	h.c = NewCoordinator(h.now, h.cfg, h.log)
}

// deadline is the coordinator's Deadline, which must equal the one computed from
// scratch by walking every transaction: a cached answer or a timer queue left stale by
// some input would delay or skip a Tick.
func (h *harness) deadline() int64 {
	h.t.Helper()
	d := h.c.Deadline()
	if want := deadlineFromScratch(h.c); d != want {
		h.t.Fatalf("Deadline %d, computed from the transactions %d", d, want)
	}
	return d
}

// deadlineFromScratch is Deadline as a walk over every id.
func deadlineFromScratch(c *Coordinator) int64 {
	if c.phase != phaseServing {
		return math.MaxInt64
	}
	if c.timersPending {
		return c.now
	}
	d := int64(math.MaxInt64)
	ongoing := false
	for _, t := range c.txns {
		if r := t.round; r != nil && r.waiting {
			d = min(d, r.retryFrom+int64(c.cfg.MarkerRetry))
		}
		ongoing = ongoing || t.rec.state == stateOngoing
		if t.durable && !t.expiring && c.mayExpire(t) {
			d = min(d, c.expiresAt(t))
		}
	}
	if ongoing {
		d = min(d, c.nextAbortCheck)
	}
	return min(d, c.queueDeadline())
}

// run advances the clock to now+d, running every timer on the way at its deadline.
func (h *harness) run(d time.Duration) {
	h.t.Helper()
	target := h.now + int64(d)
	for i := 0; ; i++ {
		if i > 100000 {
			h.t.Fatal("timers do not settle")
		}
		dl := h.deadline()
		if dl > target {
			break
		}
		h.now = max(h.now, dl)
		h.c.Tick(h.now)
	}
	h.now = target
	h.c.Tick(h.now)
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

type initResp struct {
	pid   int64
	epoch int16
	code  int16
}

const testTimeoutMs = 60000

func (h *harness) init(id string, timeoutMs int32, pid int64, epoch int16) *call[initResp] {
	c := &call[initResp]{t: h.t}
	h.c.InitProducerID(h.now, id, timeoutMs, pid, epoch, func(p int64, e int16, code int16) {
		c.reply(initResp{p, e, code})
	})
	return c
}

// initOK initializes a producer of id and returns its id and epoch.
func (h *harness) initOK(id string) (int64, int16) {
	h.t.Helper()
	r := h.init(id, testTimeoutMs, -1, -1).get()
	if r.code != 0 {
		h.t.Fatalf("InitProducerID %s: %s", id, codeName(r.code))
	}
	return r.pid, r.epoch
}

func tps(topic string, parts ...int32) []TopicPartition {
	var out []TopicPartition
	for _, p := range parts {
		out = append(out, TopicPartition{topic, p})
	}
	return out
}

func (h *harness) add(id string, pid int64, epoch int16, parts ...TopicPartition) *call[[]int16] {
	c := &call[[]int16]{t: h.t}
	h.c.AddPartitions(h.now, id, pid, epoch, parts, c.reply)
	return c
}

// addCode is the code of an answered AddPartitions, which must be the same for every
// partition.
func (h *harness) addCode(c *call[[]int16]) int16 {
	h.t.Helper()
	codes := c.get()
	for _, code := range codes[1:] {
		if code != codes[0] {
			h.t.Fatalf("AddPartitions answered different codes %v", codes)
		}
	}
	if len(codes) == 0 {
		return 0
	}
	return codes[0]
}

func (h *harness) offsets(id string, pid int64, epoch int16, p TopicPartition) *call[int16] {
	c := &call[int16]{t: h.t}
	h.c.AddOffsets(h.now, id, pid, epoch, p, c.reply)
	return c
}

func (h *harness) end(id string, pid int64, epoch int16, commit bool) *call[int16] {
	c := &call[int16]{t: h.t}
	h.c.EndTxn(h.now, id, pid, epoch, commit, c.reply)
	return c
}

// begin initializes a producer of id and opens a transaction on parts.
func (h *harness) begin(id string, parts ...TopicPartition) (int64, int16) {
	h.t.Helper()
	pid, epoch := h.initOK(id)
	if code := h.addCode(h.add(id, pid, epoch, parts...)); code != 0 {
		h.t.Fatalf("AddPartitions: %s", codeName(code))
	}
	return pid, epoch
}

func (h *harness) status(id string) TxnStatus {
	h.t.Helper()
	return h.c.Describe([]string{id})[0]
}

func (h *harness) eventKinds() []string {
	var out []string
	for _, e := range h.events {
		out = append(out, e.Kind.String())
	}
	return out
}

var errTimeout = errors.New("fake: timed out")

func wantCode(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Errorf("%s: code %s, want %s", what, codeName(got), codeName(want))
	}
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}
