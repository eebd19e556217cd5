package core

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// testReplicas returns k hosted replicas, ordered by id, tracked by no host.
func testReplicas(k int) []*hosted {
	out := make([]*hosted, k)
	for i := range out {
		out[i] = &hosted{id: disk.LogID(fmt.Sprintf("t-%03d", i)), timerAt: -1, restlessAt: -1}
	}
	return out
}

// The timer heap's earliest deadline, and the replicas it finds due, are those of a
// plain list of deadlines, whatever the sequence of changes and removals.
func TestTimerHeapMatchesAList(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rs := testReplicas(rapid.IntRange(1, 40).Draw(t, "replicas"))
		var th timerHeap
		deadlines := make([]int64, len(rs)) // by replica, -1 outside the heap
		for i := range deadlines {
			deadlines[i] = -1
		}
		for range rapid.IntRange(1, 200).Draw(t, "steps") {
			i := rapid.IntRange(0, len(rs)-1).Draw(t, "replica")
			if rapid.IntRange(0, 4).Draw(t, "op") == 0 {
				th.remove(rs[i])
				deadlines[i] = -1
			} else {
				deadlines[i] = rapid.Int64Range(0, 20).Draw(t, "deadline")
				th.set(rs[i], deadlines[i])
			}
			want := NoDeadline
			for _, d := range deadlines {
				if d >= 0 {
					want = min(want, d)
				}
			}
			if got := th.min(); got != want {
				t.Fatalf("min %d, want %d", got, want)
			}
			now := rapid.Int64Range(0, 20).Draw(t, "now")
			var wantDue []*hosted
			for i, d := range deadlines {
				if d >= 0 && d <= now {
					wantDue = append(wantDue, rs[i])
				}
			}
			q := replicaQueue{kind: tickQueue}
			th.due(now, &q)
			if got := visit(&q, nil); !slices.Equal(got, wantDue) {
				t.Fatalf("due at %d: %v, want %v", now, ids(got), ids(wantDue))
			}
			q.drop()
		}
	})
}

// A replica queue visits its replicas as a loop over every replica in id order visits
// the marked ones: a replica marked during a pass is visited in that pass if it comes
// after the one being visited, and in the next pass otherwise; a removed one is
// skipped.
func TestReplicaQueueVisitsAsAnOrderedLoop(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rs := testReplicas(rapid.IntRange(1, 30).Draw(t, "replicas"))
		index := map[*hosted]int{}
		for i, hr := range rs {
			index[hr] = i
		}
		q := replicaQueue{kind: drainQueue}
		marked := make([]bool, len(rs)) // the model's marks
		for range rapid.IntRange(1, 10).Draw(t, "passes") {
			for _, i := range rapid.SliceOf(rapid.IntRange(0, len(rs)-1)).Draw(t, "marks") {
				q.add(rs[i])
				marked[i] = true
			}
			// What visiting each replica marks.
			marks := make([][]int, len(rs))
			for i := range marks {
				marks[i] = rapid.SliceOfN(rapid.IntRange(0, len(rs)-1), 0, 3).Draw(t, "marks on visit")
			}
			var want []*hosted
			for i, hr := range rs {
				if !marked[i] {
					continue
				}
				marked[i] = false
				if hr.gone {
					continue
				}
				want = append(want, hr)
				for _, j := range marks[i] {
					marked[j] = true
				}
			}
			got := visit(&q, func(hr *hosted) {
				for _, j := range marks[index[hr]] {
					q.add(rs[j])
				}
			})
			q.finish()
			if !slices.Equal(got, want) {
				t.Fatalf("visited %v, want %v", ids(got), ids(want))
			}
			for i, hr := range rs {
				if hr.queued[drainQueue] != marked[i] {
					t.Fatalf("after the pass %s is queued: %v, want %v", hr.id, hr.queued[drainQueue], marked[i])
				}
			}
			if i := rapid.IntRange(-1, len(rs)-1).Draw(t, "remove"); i >= 0 {
				rs[i].gone = true
			}
		}
	})
}

// visit runs a pass over q, calling each (if not nil) on every replica it visits, and
// returns them.
func visit(q *replicaQueue, each func(*hosted)) []*hosted {
	var out []*hosted
	q.start()
	for hr := q.pop(); hr != nil; hr = q.pop() {
		out = append(out, hr)
		if each != nil {
			each(hr)
		}
	}
	return out
}

func ids(hs []*hosted) []disk.LogID {
	out := make([]disk.LogID, len(hs))
	for i, hr := range hs {
		out[i] = hr.id
	}
	return out
}

// A broker's replica deadline is the earliest of its replicas' deadlines after every
// input, as replicas are added, led, written to and ticked.
func TestReplicasDeadlineIsTheEarliest(t *testing.T) {
	n, now := idleBroker(t, 50)
	check := func() {
		got := n.replicasDeadline()
		want := NoDeadline
		for _, hr := range n.replicas.sorted {
			want = min(want, hr.r.Deadline())
		}
		if got != want {
			t.Fatalf("replicas' deadline %d, want %d", got, want)
		}
	}
	check()
	for i := range 20 {
		produce(t, n, now, "idle-0", int32(i%5))
		run(t, n, &now, 500*time.Millisecond, check)
	}
	for _, st := range n.Replicas() {
		if st.Topic == "idle-0" && st.Partition < 5 && st.HighWatermark != 4 {
			t.Fatalf("partition %d has high watermark %d after 4 writes", st.Partition, st.HighWatermark)
		}
	}
	run(t, n, &now, 10*time.Minute, check)
}

// produce sends a batch of one record to a partition, with acks=all.
func produce(t testing.TB, n *Node, now int64, topic string, part int32) {
	t.Helper()
	batch, err := record.BuildValues(record.Spec{FirstTimestamp: now / 1e6}.NoProducer(), []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = -1, 5000
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition, p.Records = part, batch
	tp.Partitions = append(tp.Partitions, p)
	req.Topics = append(req.Topics, tp)
	n.Request(now, Request{Conn: 3, Key: req.Key(), Version: req.GetVersion(), Msg: req})
}
