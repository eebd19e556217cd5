package partition

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/record"
)

// tnode is one broker in a hand-driven test cluster: a replica over a memDisk whose Ops
// run only when the test says so.
type tnode struct {
	id     int32
	q      *disk.Queue
	d      *memDisk
	r      *Replica
	cfg    Config
	queued []disk.Op
	out    []Envelope
	alters []AlterRequest
	notes  []Note
	fatal  error
	lease  bool
	// holdDisk keeps Ops queued until the test runs them with runOps.
	holdDisk bool
	// dropOut discards this node's messages (a partitioned node).
	dropOut bool
}

// tcluster drives replicas of one partition by hand: time moves only with advance,
// messages and Ops are delivered by settle.
type tcluster struct {
	t     *testing.T
	now   int64
	ids   []int32
	nodes map[int32]*tnode
	st    State
	base  Config
	// autoAlter makes a fake controller commit every valid AlterPartition at once.
	autoAlter bool
	// alterErr, when set, makes that controller refuse every AlterPartition with it.
	alterErr int16
	sent     map[MsgKind]int // messages delivered, by kind
	// tamper, when set, may change every message after it is decoded, before delivery.
	tamper func(m Message)
}

// newClusterTampered is newClusterWith with tamper set from the start.
func newClusterTampered(t *testing.T, n int, disks map[int32]*memDisk, st State, tamper func(Message)) *tcluster {
	c := &tcluster{t: t, now: int64(time.Hour), nodes: map[int32]*tnode{}, base: testConfig(), autoAlter: true,
		sent: map[MsgKind]int{}, tamper: tamper}
	return c.init(n, disks, st)
}

func testConfig() Config {
	return Config{
		Topic: "t", Partition: 0, TopicID: [16]byte{1},
		ReplicaLagMax: 100 * time.Millisecond, FollowerFetchMaxWait: 20 * time.Millisecond,
		PeerRequestTimeout: 50 * time.Millisecond, FollowerBackoff: 10 * time.Millisecond,
		AlterBackoff: 10 * time.Millisecond, AlterTimeout: 100 * time.Millisecond,
		RetentionCheckInterval: time.Hour, SnapshotInterval: time.Hour, AsyncSyncInterval: 10 * time.Millisecond,
	}
}

// newCluster makes n replicas (ids 1..n) of a partition led by 1 with every replica in
// the ISR, and settles.
func newCluster(t *testing.T, n int, minISR int32, tweak func(*Config)) *tcluster {
	return newClusterWith(t, n, nil, State{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, MinISR: minISR}, tweak)
}

// newClusterWith starts n replicas over the given disks (fresh ones where missing) with
// metadata st, whose replicas and ISR default to all.
func newClusterWith(t *testing.T, n int, disks map[int32]*memDisk, st State, tweak func(*Config)) *tcluster {
	c := &tcluster{t: t, now: int64(time.Hour), nodes: map[int32]*tnode{}, base: testConfig(), autoAlter: true, sent: map[MsgKind]int{}}
	if tweak != nil {
		tweak(&c.base)
	}
	return c.init(n, disks, st)
}

// init starts n replicas on disks (a new disk where none is given) with st, and settles.
func (c *tcluster) init(n int, disks map[int32]*memDisk, st State) *tcluster {
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, int32(i))
	}
	if st.Replicas == nil {
		st.Replicas = slices.Clone(c.ids)
	}
	if st.ISR == nil {
		st.ISR = slices.Clone(c.ids)
	}
	c.st = st
	for _, id := range c.ids {
		d := disks[id]
		if d == nil {
			d = newMemDisk()
		}
		c.start(id, d)
	}
	c.update()
	return c
}

// diskWith makes a disk whose log holds one batch per entry of epochs (the leader epoch
// each batch was written in), two records each, valued "<offset>e<epoch>", all durable,
// with a matching leader-epoch checkpoint.
func diskWith(start int64, epochs ...int32) *memDisk {
	d := newMemDisk()
	id := disk.PartitionLog("t", 0)
	d.exec(disk.Op{Kind: disk.CreateLog, Log: id, Offset: start})
	l := d.logs[id]
	off := start
	var cp []disk.EpochEntry
	for _, e := range epochs {
		b := batchOf(fmt.Sprintf("%de%d", off, e), fmt.Sprintf("%de%d", off+1, e))
		record.SetBaseOffset(b, off)
		record.SetPartitionLeaderEpoch(b, e)
		if err := l.append(disk.Op{Offset: off, Data: b}); err != nil {
			panic(err)
		}
		if len(cp) == 0 || cp[len(cp)-1].Epoch != e {
			cp = append(cp, disk.EpochEntry{Epoch: e, StartOffset: off})
		}
		off += 2
	}
	l.synced = len(l.batches)
	l.epochs = cp
	return d
}

// start (re)creates node id's replica over disk d, as after a restart.
func (c *tcluster) start(id int32, d *memDisk) *tnode {
	n := &tnode{id: id, q: &disk.Queue{}, d: d, lease: true}
	if old := c.nodes[id]; old != nil {
		n.holdDisk, n.lease = old.holdDisk, old.lease
	}
	n.cfg = c.base
	n.cfg.NodeID, n.cfg.Queue = id, n.q
	n.cfg.LeaseValid = func(int64) bool { return n.lease }
	c.nodes[id] = n
	st, files := d.recovered(disk.PartitionLog("t", 0))
	n.r = New(n.cfg, st, files, c.now)
	c.collect(n)
	c.settle()
	return n
}

func (c *tcluster) node(id int32) *tnode { return c.nodes[id] }
func (c *tcluster) r(id int32) *Replica  { return c.nodes[id].r }

// update sends the cluster's metadata to every replica and settles.
func (c *tcluster) update() {
	for _, id := range c.ids {
		c.nodes[id].r.Update(c.now, c.st)
		c.collect(c.nodes[id])
	}
	c.settle()
}

// elect makes id the leader with a new leader epoch.
func (c *tcluster) elect(id int32) {
	c.st.Leader = id
	c.st.LeaderEpoch++
	c.st.PartitionEpoch++
	c.update()
}

func (c *tcluster) collect(n *tnode) {
	n.queued = append(n.queued, n.q.Drain()...)
	rd := n.r.Ready()
	if !n.dropOut {
		n.out = append(n.out, rd.Messages...)
	}
	if rd.AlterISR != nil {
		n.alters = append(n.alters, *rd.AlterISR)
	}
	n.notes = append(n.notes, rd.Notes...)
	if rd.Fatal != nil {
		n.fatal = rd.Fatal
	}
}

// runOps executes up to k queued Ops of node n (all when k < 0), delivering their Dones.
func (c *tcluster) runOps(n *tnode, k int) int {
	done := 0
	for len(n.queued) > 0 && (k < 0 || done < k) {
		op := n.queued[0]
		n.queued = n.queued[1:]
		d := n.d.exec(op)
		n.r.Done(c.now, d)
		c.collect(n)
		done++
	}
	return done
}

// settle runs Ops and delivers messages until nothing moves.
func (c *tcluster) settle() {
	for round := 0; ; round++ {
		if round > 10000 {
			c.t.Fatal("cluster does not settle")
		}
		moved := false
		for _, id := range c.ids {
			n := c.nodes[id]
			if n == nil {
				continue
			}
			if !n.holdDisk && c.runOps(n, -1) > 0 {
				moved = true
			}
			if c.autoAlter {
				c.commitAlters(n)
			}
		}
		for _, id := range c.ids {
			n := c.nodes[id]
			if n == nil {
				continue
			}
			out := n.out
			n.out = nil
			for _, e := range out {
				moved = true
				c.deliver(id, e)
			}
		}
		if !moved {
			return
		}
	}
}

// deliver passes a message through the codec to its destination.
func (c *tcluster) deliver(from int32, e Envelope) {
	dst := c.nodes[e.To]
	if dst == nil || dst.dropOut {
		return
	}
	m, err := Decode(Encode(e.Msg))
	if err != nil {
		c.t.Fatalf("decode %s: %v", e.Msg.Kind(), err)
	}
	if c.tamper != nil {
		c.tamper(m)
	}
	c.sent[m.Kind()]++
	dst.r.Step(c.now, from, m)
	c.collect(dst)
}

// commitAlters plays the controller for pending AlterPartition requests.
func (c *tcluster) commitAlters(n *tnode) {
	alters := n.alters
	n.alters = nil
	for _, a := range alters {
		res := AlterResult{RequestID: a.RequestID, LeaderEpoch: c.st.LeaderEpoch, PartitionEpoch: c.st.PartitionEpoch}
		switch {
		case c.alterErr != CodeNone:
			res.Err = c.alterErr
		case a.LeaderEpoch != c.st.LeaderEpoch:
			res.Err = CodeFencedLeaderEpoch
		case a.PartitionEpoch != c.st.PartitionEpoch:
			res.Err = CodeInvalidUpdateVersion
		default:
			c.st.ISR = slices.Clone(a.ISR)
			c.st.PartitionEpoch++
			res.ISR, res.PartitionEpoch = slices.Clone(a.ISR), c.st.PartitionEpoch
			if !slices.Contains(a.ISR, a.Leader) {
				// The leader resigns: elect the first replica of the new ISR, as the
				// controller does.
				c.st.Leader = -1
				for _, id := range c.st.Replicas {
					if slices.Contains(a.ISR, id) {
						c.st.Leader = id
						break
					}
				}
				c.st.LeaderEpoch++
				res.LeaderEpoch = c.st.LeaderEpoch
			}
		}
		n.r.AlterPartitionResult(c.now, res)
		c.collect(n)
		if res.Err == CodeNone {
			for _, id := range c.ids {
				c.nodes[id].r.Update(c.now, c.st)
				c.collect(c.nodes[id])
			}
		}
	}
}

// advance moves time by d in steps no longer than step, ticking every replica at each
// step and at every deadline on the way, and settles.
func (c *tcluster) advance(d time.Duration) {
	end := c.now + int64(d)
	for c.now < end {
		next := end
		for _, id := range c.ids {
			next = min(next, max(c.nodes[id].r.Deadline(), c.now+1))
		}
		c.now = next
		for _, id := range c.ids {
			n := c.nodes[id]
			if n.r.Deadline() <= c.now {
				n.r.Tick(c.now)
				c.collect(n)
			}
		}
		c.settle()
	}
}

func (c *tcluster) hasNote(id int32, kind string) bool {
	for _, n := range c.nodes[id].notes {
		if n.Kind == kind {
			return true
		}
	}
	return false
}

// answers collects the answers a request gets.
type answers[T any] struct {
	got []T
}

func (a *answers[T]) reply(res T) { a.got = append(a.got, res) }

func (a *answers[T]) one(t *testing.T) T {
	t.Helper()
	if len(a.got) != 1 {
		t.Fatalf("answered %d times: %+v", len(a.got), a.got)
	}
	return a.got[0]
}

func (a *answers[T]) pending() bool { return len(a.got) == 0 }

// produceRec and deleteRec collect the answers a produce and a DeleteRecords get.
type (
	produceRec = answers[ProduceResult]
	deleteRec  = answers[DeleteResult]
)

func (c *tcluster) produce(id int32, batch []byte, acks int16) *produceRec {
	p := &produceRec{}
	n := c.nodes[id]
	produceVouched(n.r, c.now, batch, acks, time.Second, p.reply)
	c.collect(n)
	c.settle()
	return p
}

// deleteRecords asks leader id to delete below offset, with timeout, and settles; the
// answer may wait for the followers' next fetches (advance).
func (c *tcluster) deleteRecords(id int32, offset int64, timeout time.Duration) *deleteRec {
	d := &deleteRec{}
	n := c.nodes[id]
	n.r.DeleteRecords(c.now, offset, timeout, d.reply)
	c.collect(n)
	c.settle()
	return d
}

type fetchRec struct {
	got []FetchResult
}

func (f *fetchRec) reply(res FetchResult) { f.got = append(f.got, res) }

func (f *fetchRec) one(t *testing.T) FetchResult {
	t.Helper()
	if len(f.got) != 1 {
		t.Fatalf("fetch answered %d times", len(f.got))
	}
	return f.got[0]
}

func (c *tcluster) fetch(id int32, req FetchRequest) *fetchRec {
	f := &fetchRec{}
	n := c.nodes[id]
	n.r.Fetch(c.now, req, f.reply)
	c.collect(n)
	c.settle()
	return f
}

func (c *tcluster) listOffsets(id int32, ts int64) ListOffsetsResult {
	var got []ListOffsetsResult
	n := c.nodes[id]
	n.r.ListOffsets(c.now, ts, -1, 0, func(r ListOffsetsResult) { got = append(got, r) })
	c.collect(n)
	c.settle()
	if len(got) != 1 {
		c.t.Fatalf("ListOffsets answered %d times", len(got))
	}
	return got[0]
}

// batchOf builds a plain batch of values.
func batchOf(values ...string) []byte {
	bs := make([][]byte, len(values))
	for i, v := range values {
		bs[i] = []byte(v)
	}
	b, err := record.BuildValues(record.Spec{FirstTimestamp: 1000, PartitionLeaderEpoch: -1}.NoProducer(), bs...)
	if err != nil {
		panic(err)
	}
	return b
}

// idemBatch builds a batch of an idempotent producer.
func idemBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	bs := make([][]byte, len(values))
	for i, v := range values {
		bs[i] = []byte(v)
	}
	b, err := record.BuildValues(record.Spec{FirstTimestamp: 1000, PartitionLeaderEpoch: -1,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, bs...)
	if err != nil {
		panic(err)
	}
	return b
}

// values decodes the record values of whole batches, with their offsets.
func values(t testing.TB, b []byte) []string {
	var out []string
	_, err := record.Split(b, func(h record.Header, batch []byte) error {
		it, err := record.NewIter(batch, 1<<20)
		if err != nil {
			return err
		}
		for it.Next() {
			out = append(out, fmt.Sprintf("%d:%s", it.Offset(), it.Record().Value))
		}
		return it.Err()
	})
	if err != nil {
		t.Fatalf("decode batches: %v", err)
	}
	return out
}

// logValues is every record of node id's log on disk, as "offset:value".
func (c *tcluster) logValues(id int32) []string {
	l := c.nodes[id].d.logs[disk.PartitionLog("t", 0)]
	var all []byte
	for _, b := range l.batches {
		all = append(all, b.data...)
	}
	return values(c.t, all)
}

func joined(v []string) string { return strings.Join(v, " ") }

var _ = enc.ErrBad

// produceVouched produces batch as the broker does when the producer's transaction
// coordinator vouches for every transaction: a batch that needs verification is
// verified at once.
func produceVouched(r *Replica, now int64, batch []byte, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	g, need, code := r.StartTxnVerification(now, batch, acks)
	switch {
	case code != CodeNone:
		reply(failedProduce(code))
	case need:
		r.ProduceVerified(now, batch, g, acks, timeout, reply)
	default:
		r.Produce(now, batch, acks, timeout, reply)
	}
}
