package raft

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/plant"
)

// A small hand-driven cluster for unit tests: messages and disk ops wait in queues until
// the test delivers or completes them, so each test can stage a precise interleaving.

const (
	testElection = 100 * time.Millisecond
	testMaxWait  = 20 * time.Millisecond
	testFetchTO  = 200 * time.Millisecond
)

func testConfig(id int32, voters []int32, q *disk.Queue, seed uint64) Config {
	return Config{
		ID:                 id,
		Voters:             voters,
		ElectionTimeout:    testElection,
		FetchMaxWait:       testMaxWait,
		FetchTimeout:       testFetchTO,
		FetchBytesMax:      1 << 20,
		SnapshotChunkBytes: 1 << 20,
		Rand:               rand.New(rand.NewPCG(seed, uint64(id))),
		Queue:              q,
	}
}

type tnode struct {
	t   testing.TB
	id  int32
	r   *Raft
	q   *disk.Queue
	ops []disk.Op // emitted, not completed
	// disk model: files and the log as written so far (the unit tests never crash)
	files map[string][]byte
	rd    Ready // accumulated outputs not yet consumed by the test
}

type tcluster struct {
	t     testing.TB
	now   int64
	nodes map[int32]*tnode
	ids   []int32
	msgs  []tmsg // in flight, in send order
}

type tmsg struct {
	from int32
	env  Envelope
}

func newCluster(t testing.TB, voters []int32, observers ...int32) *tcluster {
	return newClusterWith(t, voters, observers, nil)
}

func newClusterWith(t testing.TB, voters, observers []int32, tweak func(*Config)) *tcluster {
	t.Helper()
	c := &tcluster{t: t, now: 1e9, nodes: map[int32]*tnode{}}
	for _, id := range append(append([]int32(nil), voters...), observers...) {
		q := &disk.Queue{}
		cfg := testConfig(id, voters, q, 1)
		if tweak != nil {
			tweak(&cfg)
		}
		r, err := New(cfg, Restored{})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[id] = &tnode{t: t, id: id, r: r, q: q, files: map[string][]byte{}}
		c.ids = append(c.ids, id)
	}
	return c
}

func (c *tcluster) n(id int32) *tnode { return c.nodes[id] }

// pump collects outputs of every node into the cluster's queues.
func (c *tcluster) pump() {
	for _, id := range c.ids {
		n := c.nodes[id]
		rd := n.r.Ready()
		n.ops = append(n.ops, n.q.Drain()...)
		for _, env := range rd.Messages {
			c.msgs = append(c.msgs, tmsg{from: id, env: roundTrip(c.t, env)})
		}
		n.rd.Committed = append(n.rd.Committed, rd.Committed...)
		n.rd.Notes = append(n.rd.Notes, rd.Notes...)
		n.rd.Reads = append(n.rd.Reads, rd.Reads...)
		if rd.Installed != nil {
			n.rd.Installed = rd.Installed
		}
		if rd.Fatal != nil {
			n.rd.Fatal = rd.Fatal
		}
	}
}

// roundTrip passes every message through the codec, as a real network would.
func roundTrip(t testing.TB, env Envelope) Envelope {
	w := enc.Writer{}
	EncodeMessage(&w, env.Msg)
	m, err := DecodeMessage(&enc.Reader{B: w.B})
	if err != nil {
		t.Fatalf("message %T does not decode: %v", env.Msg, err)
	}
	return Envelope{To: env.To, Msg: m}
}

// completeDisk completes every pending op of node id (all of them when id < 0).
func (c *tcluster) completeDisk(ids ...int32) {
	if len(ids) == 0 {
		ids = c.ids
	}
	for progress := true; progress; {
		progress = false
		c.pump()
		for _, id := range ids {
			n := c.nodes[id]
			for len(n.ops) > 0 {
				op := n.ops[0]
				n.ops = n.ops[1:]
				switch op.Kind {
				case disk.WriteFile:
					n.files[op.Name] = op.Data
				case disk.RemoveFile:
					delete(n.files, op.Name)
				}
				n.r.Done(c.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
				progress = true
			}
		}
	}
	c.pump()
}

// deliver delivers in-flight messages accepted by keep (all when keep is nil) and
// returns how many it delivered. Messages sent while delivering wait for the next call.
func (c *tcluster) deliver(keep func(tmsg) bool) int {
	c.pump()
	msgs := c.msgs
	c.msgs = nil
	n := 0
	for _, m := range msgs {
		if keep != nil && !keep(m) {
			c.msgs = append(c.msgs, m)
			continue
		}
		if dst := c.nodes[m.env.To]; dst != nil {
			dst.r.Step(c.now, m.from, m.env.Msg)
			n++
		}
	}
	c.pump()
	return n
}

// drop forgets in-flight messages accepted by match.
func (c *tcluster) drop(match func(tmsg) bool) {
	c.pump()
	kept := c.msgs[:0]
	for _, m := range c.msgs {
		if !match(m) {
			kept = append(kept, m)
		}
	}
	c.msgs = kept
}

// settle delivers messages and completes disk ops until nothing moves.
func (c *tcluster) settle() {
	for i := 0; i < 1000; i++ {
		c.completeDisk()
		if c.deliver(nil) == 0 {
			c.completeDisk()
			if len(c.msgs) == 0 {
				return
			}
		}
	}
	c.t.Fatalf("cluster does not settle")
}

func (c *tcluster) advance(d time.Duration) {
	c.now += int64(d)
	for _, id := range c.ids {
		c.nodes[id].r.Tick(c.now)
	}
	c.pump()
}

// elect makes id the leader: its election timer fires and everything settles.
func (c *tcluster) elect(id int32) {
	c.t.Helper()
	n := c.nodes[id]
	for _, other := range c.ids {
		c.nodes[other].r.Tick(c.now) // start timers
	}
	n.r.Tick(n.r.Deadline())
	c.now = max(c.now, n.r.lastNow)
	c.settle()
	if st := n.r.Status(); st.Role != Leader {
		c.t.Fatalf("%d did not become leader: %+v\nnotes: %v", id, st, n.rd.Notes)
	}
}

func (c *tcluster) propose(id int32, values ...string) int64 {
	c.t.Helper()
	recs := make([][]byte, len(values))
	for i, v := range values {
		recs[i] = []byte(v)
	}
	off, err := c.nodes[id].r.Propose(c.now, recs)
	if err != nil {
		c.t.Fatalf("propose on %d: %v", id, err)
	}
	c.pump()
	return off
}

func (n *tnode) takeCommitted() []Entry {
	es := n.rd.Committed
	n.rd.Committed = nil
	return es
}

func (n *tnode) hasNote(kind string) bool {
	for _, note := range n.rd.Notes {
		if note.Kind == kind {
			return true
		}
	}
	return false
}

func values(es []Entry) string {
	var parts []string
	for _, e := range es {
		if e.Control {
			parts = append(parts, fmt.Sprintf("%d:ctl@%d", e.Offset, e.Epoch))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d:%s@%d", e.Offset, e.Data, e.Epoch))
	}
	return strings.Join(parts, " ")
}

// restored is what n's disk holds, assuming every op completed.
func (n *tnode) restored() Restored {
	rec := Restored{QuorumState: n.files[QuorumStateFile], QuorumStateCopy: n.files[QuorumStateCopyFile]}
	if b, ok := n.files[SnapshotFile]; ok {
		s, err := DecodeSnapshotFile(b)
		if err != nil {
			n.t.Fatal(err)
		}
		rec.Snapshot = &s
	}
	rec.StartOffset = n.r.log.start
	for _, b := range n.r.log.batches {
		rec.Batches = append(rec.Batches, b.data...)
	}
	return rec
}

func plants(t testing.TB, names ...string) plant.Set {
	s, err := plant.Parse(names...)
	if err != nil {
		t.Fatalf("plants: %v", err)
	}
	return s
}

func msgOf[T Message](m tmsg) (T, bool) {
	v, ok := m.env.Msg.(T)
	return v, ok
}
