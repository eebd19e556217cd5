package kafka

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The cluster every handler test runs against: brokers 1-3, topic "orders" with three
// partitions, "events" with one, and the group offsets topic with four.
const (
	offsetsTopic      = "__consumer_offsets"
	offsetsPartitions = 4
	testNow           = int64(1_000 * time.Second)
)

func testImage(t testing.TB, configs ...metadata.Config) metadata.Image {
	t.Helper()
	var im metadata.Image
	off := int64(0)
	apply := func(r metadata.Record) {
		t.Helper()
		next, err := im.Apply(off, r)
		if err != nil {
			t.Fatalf("applying %T: %v", r, err)
		}
		im, off = next, off+1
	}
	for id := int32(1); id <= 3; id++ {
		apply(metadata.RegisterBroker{BrokerID: id, Incarnation: [16]byte{byte(id)},
			Listeners: []metadata.Listener{{Name: "PLAINTEXT", Host: fmt.Sprintf("b%d", id), Port: 9090 + id}}})
	}
	topic := func(name string, idByte byte, partitions int32) {
		id := [16]byte{idByte}
		apply(metadata.Topic{Name: name, ID: id})
		for p := range partitions {
			leader := p%3 + 1
			apply(metadata.Partition{TopicID: id, Partition: p, Replicas: []int32{leader}, ISR: []int32{leader}, Leader: leader})
		}
	}
	topic("orders", 1, 3)
	topic("events", 2, 1)
	topic(offsetsTopic, 3, offsetsPartitions)
	for _, c := range configs {
		apply(c)
	}
	return im
}

// fakeReplica answers with canned results, at once or when released.
type fakeReplica struct {
	list  map[int64]partition.ListOffsetsResult // by timestamp asked for
	epoch partition.EpochEndResult
	del   partition.DeleteResult
	hold  bool     // keep answers until release
	held  []func() // answers kept, in call order
	calls []string // what was asked, in order
	// batches are the sizes of the batches a fetch reads, as the disk does: whole
	// batches up to MaxBytes, the first always; fetches records what fetches asked.
	batches []int
	fetches []partition.FetchRequest
	// hw and err, when set, are what fetches answer (otherwise 42 and no error).
	hw  int64
	err int16
	// lso, when set, is the last stable offset fetches answer; aborted is what they
	// answer a read_committed fetch.
	lso     int64
	aborted []partition.AbortedTxn
	// producers and producersErr are what Producers answers.
	producers    []partition.ProducerInfo
	producersErr int16
}

func (r *fakeReplica) answer(f func()) {
	if r.hold {
		r.held = append(r.held, f)
		return
	}
	f()
}

// release gives the kept answers in the order given by order (indexes into held).
func (r *fakeReplica) release(order ...int) {
	held := r.held
	r.held = nil
	for _, i := range order {
		held[i]()
	}
}

func (r *fakeReplica) Produce(_ int64, txnID string, implicitAdd bool, _ []byte, _ int16, _ time.Duration, reply func(partition.ProduceResult)) {
	r.calls = append(r.calls, fmt.Sprintf("produce txn=%q implicit-add=%v", txnID, implicitAdd))
	reply(partition.ProduceResult{Err: r.err})
}
func (r *fakeReplica) Fetch(now int64, req partition.FetchRequest, reply func(partition.FetchResult)) {
	r.calls = append(r.calls, fmt.Sprintf("fetch max=%d offsets-only=%v", req.MaxBytes, req.OffsetsOnly))
	r.fetches = append(r.fetches, req)
	res := partition.FetchResult{HighWatermark: 42, LastStableOffset: 42, Err: r.err}
	if r.hw != 0 {
		res.HighWatermark, res.LastStableOffset = r.hw, r.hw
	}
	if r.lso != 0 {
		res.LastStableOffset = r.lso
	}
	if req.Isolation == 1 {
		res.Aborted = r.aborted
	}
	for _, n := range r.batches {
		if req.OffsetsOnly || (len(res.Records) > 0 && len(res.Records)+n > int(req.MaxBytes)) {
			break
		}
		res.Records = append(res.Records, make([]byte, n)...)
	}
	r.answer(func() { reply(res) })
}
func (r *fakeReplica) HighWatermark() int64 { return 0 }

func (r *fakeReplica) Producers(now int64) ([]partition.ProducerInfo, int16) {
	return r.producers, r.producersErr
}

func (r *fakeReplica) ListOffsets(now int64, ts int64, epoch int32, isolation int8, reply func(partition.ListOffsetsResult)) {
	r.calls = append(r.calls, fmt.Sprintf("list ts=%d epoch=%d isolation=%d", ts, epoch, isolation))
	res, ok := r.list[ts]
	if !ok {
		res = partition.ListOffsetsResult{Err: partition.CodeUnsupportedVersion, Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	}
	r.answer(func() { reply(res) })
}

func (r *fakeReplica) OffsetForLeaderEpoch(now int64, current, epoch int32) partition.EpochEndResult {
	r.calls = append(r.calls, fmt.Sprintf("epoch current=%d epoch=%d", current, epoch))
	return r.epoch
}

func (r *fakeReplica) DeleteRecords(now int64, offset int64, timeout time.Duration, reply func(partition.DeleteResult)) {
	r.calls = append(r.calls, fmt.Sprintf("delete offset=%d timeout=%v", offset, timeout))
	res := r.del
	r.answer(func() { reply(res) })
}

// groupLog is a group.Log that loads an empty partition and makes appends durable at
// once, or when released.
type groupLog struct {
	next     int64
	hold     bool
	held     []func()
	loading  bool // keep the load going: the coordinator answers LOAD_IN_PROGRESS
	loadFail bool // the load fails: COORDINATOR_NOT_AVAILABLE
}

func (l *groupLog) Append(now int64, recs []group.KV, done func(int64, error)) {
	f := func() {
		base := l.next
		l.next += int64(len(recs))
		done(base, nil)
	}
	if l.hold {
		l.held = append(l.held, f)
		return
	}
	f()
}

func (l *groupLog) AppendTxn(now int64, pid int64, epoch int16, _ any, recs []group.KV, done func(int64, error)) {
	l.Append(now, recs, done)
}

func (l *groupLog) Load(now int64, batch func([]byte), done func(error)) {
	switch {
	case l.loading:
	case l.loadFail:
		done(fmt.Errorf("the log is unreadable"))
	default:
		done(nil)
	}
}

func (l *groupLog) releaseAll() {
	held := l.held
	l.held = nil
	for _, f := range held {
		f()
	}
}

type pidAnswer struct {
	id   int64
	code int16
}

type findAnswer struct {
	node int32
	host string
	port int32
	code int16
}

// fakeBroker is a Broker over canned replicas and real group coordinators.
type fakeBroker struct {
	t        testing.TB
	now      int64
	image    metadata.Image
	replicas map[topicPartition]*fakeReplica
	coords   map[int32]*group.Coordinator // by offsets partition
	logs     map[int32]*groupLog
	routing  map[string]int16 // a routing code forced for a group

	pids     []pidAnswer // answers of ProducerID, in order
	pidCalls int
	pidHold  bool
	pidHeld  []func()

	finds     map[string]findAnswer
	findCalls []string
	findHold  bool
	findHeld  []func()

	txnVersion int16                // transaction.version; 0: 2
	added      []txn.TopicPartition // VerifyTxnCommit's partitions to add, in order
	addCode    int16                // VerifyTxnCommit's answer to an add
	verified   []txn.TopicPartition // VerifyTxnCommit's partitions to verify, in order
	verifyCode int16                // VerifyTxnCommit's answer to a verification
	guards     int                  // the guards VerifyTxnCommit handed out (1, 2...)
	dropped    []int                // the guards DropTxnGuard ended

	fetchBytesMax int32 // fetch.max.bytes in the view
	sessions      *FetchSessions
	principal     string  // the principal of the requests handled
	access        *Access // access control of the requests handled; nil: none
}

func newFakeBroker(t testing.TB, configs ...metadata.Config) *fakeBroker {
	return &fakeBroker{
		t: t, now: testNow, image: testImage(t, configs...),
		replicas: map[topicPartition]*fakeReplica{},
		coords:   map[int32]*group.Coordinator{},
		logs:     map[int32]*groupLog{},
		routing:  map[string]int16{},
		finds:    map[string]findAnswer{},
	}
}

// host gives the broker a replica of a partition.
func (b *fakeBroker) host(topic string, p int32) *fakeReplica {
	r := &fakeReplica{list: map[int64]partition.ListOffsetsResult{}}
	b.replicas[topicPartition{topic, p}] = r
	return r
}

// coordinate starts a coordinator for the offsets partition holding groupID.
func (b *fakeBroker) coordinate(groupID string, log *groupLog) *group.Coordinator {
	p := group.PartitionFor(groupID, offsetsPartitions)
	if c := b.coords[p]; c != nil {
		return c
	}
	if log == nil {
		log = &groupLog{}
	}
	cfg := group.DefaultConfig(p, rand.New(rand.NewPCG(1, uint64(p))))
	cfg.InitialRebalanceDelay = 0
	c := group.NewCoordinator(b.now, cfg, log)
	b.coords[p], b.logs[p] = c, log
	return c
}

func (b *fakeBroker) tick(d time.Duration) {
	b.now += int64(d)
	for p := range int32(offsetsPartitions) {
		if c := b.coords[p]; c != nil {
			c.Tick(b.now)
		}
	}
}

func (b *fakeBroker) Now() int64 { return b.now }
func (b *fakeBroker) View() View {
	return View{Image: b.image, ClusterID: "test", NodeID: 1, FetchBytesMax: b.fetchBytesMax, Principal: b.principal, Access: b.access}
}

func (b *fakeBroker) Replica(topic string, p int32) Replica {
	if r := b.replicas[topicPartition{topic, p}]; r != nil {
		return r
	}
	return nil
}

func (b *fakeBroker) Wait(int64, func() bool, func()) { panic("not used") }

func (b *fakeBroker) ProducerID(reply func(int64, int16)) {
	if b.pidCalls >= len(b.pids) {
		b.t.Fatalf("ProducerID called %d times, %d answers prepared", b.pidCalls+1, len(b.pids))
	}
	a := b.pids[b.pidCalls]
	b.pidCalls++
	f := func() { reply(a.id, a.code) }
	if b.pidHold {
		b.pidHeld = append(b.pidHeld, f)
		return
	}
	f()
}

func (b *fakeBroker) Coordinator(groupID string) (*group.Coordinator, int16) {
	if code, ok := b.routing[groupID]; ok {
		return nil, code
	}
	c := b.coords[group.PartitionFor(groupID, offsetsPartitions)]
	if c == nil {
		return nil, kerr.NotCoordinator.Code
	}
	if code := c.Availability(); code != 0 {
		return nil, code
	}
	return c, 0
}

func (b *fakeBroker) FindCoordinator(groupID string, reply func(int32, string, int32, int16)) {
	b.findCalls = append(b.findCalls, groupID)
	a, ok := b.finds[groupID]
	if !ok {
		a = findAnswer{-1, "", -1, kerr.CoordinatorNotAvailable.Code}
	}
	f := func() { reply(a.node, a.host, a.port, a.code) }
	if b.findHold {
		b.findHeld = append(b.findHeld, f)
		return
	}
	f()
}

func (b *fakeBroker) FetchSessions() *FetchSessions { return b.sessions }

func (b *fakeBroker) TxnCoordinator(string) (*txn.Coordinator, int16) {
	return nil, kerr.NotCoordinator.Code
}

func (b *fakeBroker) FindTxnCoordinator(txnID string, reply func(int32, string, int32, int16)) {
	b.FindCoordinator(txnID, reply)
}

func (b *fakeBroker) TxnCoordinators() []*txn.Coordinator { return nil }

func (b *fakeBroker) TxnVersion() int16 {
	if b.txnVersion == 0 {
		return 2
	}
	return b.txnVersion
}

// VerifyTxnCommit answers with addCode (verifyCode without add) and records the
// partition it was asked for (added or verified).
func (b *fakeBroker) VerifyTxnCommit(txnID string, pid int64, epoch int16, groupID string, add bool, done func(int16, any)) {
	tp := b.OffsetsPartition(groupID)
	code := b.verifyCode
	if add {
		b.added, code = append(b.added, tp), b.addCode
	} else {
		b.verified = append(b.verified, tp)
	}
	if code != 0 {
		done(code, nil)
		return
	}
	b.guards++
	done(0, b.guards)
}

// DropTxnGuard records the guards ended.
func (b *fakeBroker) DropTxnGuard(guard any) {
	if guard != nil {
		b.dropped = append(b.dropped, guard.(int))
	}
}

func (b *fakeBroker) OffsetsPartition(groupID string) txn.TopicPartition {
	return txn.TopicPartition{Topic: "__consumer_offsets", Partition: group.PartitionFor(groupID, offsetsPartitions)}
}

func (b *fakeBroker) Groups() []*group.Coordinator {
	var out []*group.Coordinator
	for p := range int32(offsetsPartitions) {
		if c := b.coords[p]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

// replies collects a handler's responses; a handler must answer exactly once.
type replies struct {
	t   testing.TB
	got []kmsg.Response
}

func (r *replies) reply(resp kmsg.Response) { r.got = append(r.got, resp) }

// fetched returns a Fetch handler's answer as a plain response, every partition's
// records in its RecordBatches, after checking that the answer encodes (AppendTo, and
// AppendFrame with its spans written) exactly as that plain response does.
func fetched(t testing.TB, resp kmsg.Response) *kmsg.FetchResponse {
	t.Helper()
	a, ok := resp.(*FetchAnswer)
	if !ok {
		t.Fatalf("a Fetch answered %T", resp)
	}
	plain := *a.FetchResponse
	plain.Topics = slices.Clone(plain.Topics)
	k := 0
	for i := range plain.Topics {
		parts := slices.Clone(plain.Topics[i].Partitions)
		for j := range parts {
			if k < len(a.Records) && len(a.Records[k]) > 0 {
				var b []byte
				for _, sp := range a.Records[k] {
					b = append(b, sp.Data...)
				}
				parts[j].RecordBatches = b
			}
			k++
		}
		plain.Topics[i].Partitions = parts
	}
	if got, want := a.AppendTo(nil), plain.AppendTo(nil); !bytes.Equal(got, want) {
		t.Fatalf("Fetch v%d answer encodes to %d bytes, the plain response to %d", a.GetVersion(), len(got), len(want))
	}
	frame, cuts := AppendFrame(nil, 7, a)
	if got, want := Materialize(frame, cuts), wire.AppendResponse(nil, 7, &plain); !bytes.Equal(got, want) {
		t.Fatalf("Fetch v%d answer frames to %d bytes, the plain response to %d", a.GetVersion(), len(got), len(want))
	}
	return &plain
}

// one returns the only response, failing when there is none or more than one.
func (r *replies) one() kmsg.Response {
	r.t.Helper()
	if len(r.got) != 1 {
		r.t.Fatalf("handler answered %d times, want once", len(r.got))
	}
	return r.got[0]
}

// viaWire encodes a request at its version and decodes it again, as the node's wire
// layer does, so handlers see exactly what a client at that version can send.
func viaWire[R kmsg.Request](t testing.TB, req R) R {
	t.Helper()
	fresh := reflect.New(reflect.TypeOf(req).Elem()).Interface().(R)
	fresh.SetVersion(req.GetVersion())
	if err := fresh.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("decoding %T v%d: %v", req, req.GetVersion(), err)
	}
	return fresh
}

// checkWire encodes a response at its version, decodes it into a fresh response of that
// version, and fails if anything changed: a field set that the version cannot carry, or
// one carried with a value the decoder would not give back.
func checkWire(t testing.TB, resp kmsg.Response) {
	t.Helper()
	fresh := resp.RequestKind().ResponseKind()
	if fresh.GetVersion() != resp.GetVersion() {
		t.Fatalf("%T: fresh response at v%d, want v%d", resp, fresh.GetVersion(), resp.GetVersion())
	}
	if err := fresh.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("%T v%d does not decode: %v", resp, resp.GetVersion(), err)
	}
	if path, ok := sameValue(reflect.ValueOf(resp).Elem(), reflect.ValueOf(fresh).Elem(), ""); !ok {
		t.Fatalf("%T v%d changes through the wire at %s:\n sent %+v\n read %+v",
			resp, resp.GetVersion(), path, resp, fresh)
	}
}

// sameValue compares two values deeply, taking nil and empty slices and maps as equal
// (the decoder does not tell them apart). It returns the first differing path.
func sameValue(a, b reflect.Value, path string) (string, bool) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return path, a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			if p, ok := sameValue(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); !ok {
				return p, false
			}
		}
		return "", true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return path, false
		}
		for i := range a.Len() {
			if p, ok := sameValue(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	case reflect.Map:
		if a.Len() != b.Len() {
			return path, false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return path, false
			}
			if p, ok := sameValue(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); !ok {
				return p, false
			}
		}
		return "", true
	case reflect.String:
		return path, a.String() == b.String()
	case reflect.Bool:
		return path, a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return path, a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return path, a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return path, a.Float() == b.Float()
	}
	panic(fmt.Sprintf("sameValue: kind %s at %s", a.Kind(), path))
}

// versions lists every version served for key.
func versions(t testing.TB, key int16) []int16 {
	t.Helper()
	lo, hi, ok := Served.Range(key)
	if !ok {
		t.Fatalf("key %d is not served", key)
	}
	var out []int16
	for v := lo; v <= hi; v++ {
		out = append(out, v)
	}
	return out
}

func str(s string) *string { return &s }
