package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/group"
)

// offsetLifeFixture is a world with one consumer group "g" on topic "t", a retention of
// one second, and the offsets checks over it.
func offsetLifeFixture() (*World, *groupRun, *offsetLife) {
	w := testWorld()
	w.cfg.Data.OffsetsRetention = time.Second
	g := &groupRun{w: w, spec: GroupSpec{Name: "g", Topics: []string{"t"}}, views: map[int32]map[string][]TopicPartition{}}
	w.data = &dataWorkload{w: w, groups: []*groupRun{g}}
	return w, g, newOffsetLife(w)
}

const ms = int64(time.Millisecond)

func TestOffsetLifeChecks(t *testing.T) {
	tp := TopicPartition{"t", 0}
	// member m1 of generation 1: synced at [1s, 1.01s], heartbeats until 5s; its clock
	// readings are its virtual times.
	live := func(g *groupRun) {
		g.marks = append(g.marks,
			memberMark{member: "m1", gen: 1, call: 1000 * ms, ret: 1010 * ms, local: 1000 * ms, sync: true},
			memberMark{member: "m1", gen: 1, call: 3000 * ms, ret: 3010 * ms, local: 3000 * ms},
			memberMark{member: "m1", gen: 1, call: 5000 * ms, ret: 5010 * ms, local: 5000 * ms})
	}
	expiry := func(at, done int64) *OffsetExpiry {
		return &OffsetExpiry{Group: "g", Offsets: []TopicPartition{tp}, At: at, AtMs: at / ms, Done: done}
	}
	for _, tc := range []struct {
		name string
		set  func(w *World, g *groupRun, o *offsetLife)
		want string // "" for no violation
	}{
		{"durable expiry while a member is in", func(w *World, g *groupRun, o *offsetLife) {
			live(g)
			o.expiries = append(o.expiries, expiry(4500*ms, 4600*ms))
		}, "while member m1 was in generation 1"},
		{"expiry of unknown outcome less than the retention after a heartbeat", func(w *World, g *groupRun, o *offsetLife) {
			live(g)
			o.expiries = append(o.expiries, expiry(3500*ms, Never))
		}, "less than the retention 1s before"},
		{"expiry the retention after the last member", func(w *World, g *groupRun, o *offsetLife) {
			live(g)
			o.expiries = append(o.expiries, expiry(6100*ms, 6200*ms))
		}, ""},
		{"an Empty group without offsets removed at once", func(w *World, g *groupRun, o *offsetLife) {
			live(g)
			o.expiries = append(o.expiries, &OffsetExpiry{Group: "g", Remove: true, At: 5500 * ms, AtMs: 5500, Done: 5600 * ms})
		}, ""},
		{"a heartbeat without a SyncGroup of its generation proves nothing", func(w *World, g *groupRun, o *offsetLife) {
			g.marks = append(g.marks, memberMark{member: "m2", gen: 7, call: 3000 * ms, ret: 3010 * ms, local: 3000 * ms})
			o.expiries = append(o.expiries, expiry(3500*ms, 3600*ms))
		}, ""},
		{"expiry less than the retention after a commit", func(w *World, g *groupRun, o *offsetLife) {
			w.hist.Ops = append(w.hist.Ops, &Op{ID: 7, Kind: OpCommit, Group: "g", Outcome: OK, Call: 2000 * ms, Return: 2010 * ms, Local: 2000 * ms,
				Offsets: []PartitionOffset{{tp, 5}}})
			o.expiries = append(o.expiries, expiry(2900*ms, Never))
		}, "committed by op 7"},
		{"a removal written again is not a fresh expiry", func(w *World, g *groupRun, o *offsetLife) {
			w.hist.Ops = append(w.hist.Ops, &Op{ID: 7, Kind: OpCommit, Group: "g", Outcome: OK, Call: 2000 * ms, Return: 2010 * ms, Local: 2000 * ms,
				Offsets: []PartitionOffset{{tp, 5}}})
			x := expiry(2900*ms, Never)
			x.Retry, x.Remove = true, true
			o.expiries = append(o.expiries, x)
		}, ""},
		{"OffsetDelete of a subscribed topic while a member is in", func(w *World, g *groupRun, o *offsetLife) {
			live(g)
			w.hist.Ops = append(w.hist.Ops, &Op{ID: 9, Kind: OpOffsetDelete, Group: "g", Outcome: OK, Call: 2000 * ms, Return: 2010 * ms,
				Offsets: []PartitionOffset{{tp, -1}, {TopicPartition{"u", 0}, -1}}, Codes: []int16{errNone, errNone}})
		}, "deleted the offset of t/0"},
		{"OffsetDelete refused, or of a topic the group does not consume", func(w *World, g *groupRun, o *offsetLife) {
			live(g)
			w.hist.Ops = append(w.hist.Ops, &Op{ID: 9, Kind: OpOffsetDelete, Group: "g", Outcome: OK, Call: 2000 * ms, Return: 2010 * ms,
				Offsets: []PartitionOffset{{tp, -1}, {TopicPartition{"u", 0}, -1}}, Codes: []int16{errGroupSubscribedToTopic, errNone}})
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, g, o := offsetLifeFixture()
			tc.set(w, g, o)
			got := o.check()
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("check: %q, want %q", got, tc.want)
			}
		})
	}
}

// A group's removal starts its generation checks over: its next incarnation counts
// generations from 0 again.
func TestGroupRemovalStartsGenerationsOver(t *testing.T) {
	w, g, o := offsetLifeFixture()
	g.synced(nil, &Op{ID: 1, Member: "m1", Generation: 1, Assigned: tps("t0/0")})
	o.event(&simNode{spec: NodeSpec{ID: 1}}, &group.Event{Kind: group.GroupRemoving, Group: "g"})
	g.synced(nil, &Op{ID: 2, Member: "m9", Generation: 1, Assigned: tps("t0/0")})
	if w.failure != nil {
		t.Fatalf("the next incarnation's generation 1 flagged: %v", w.failure)
	}
}
