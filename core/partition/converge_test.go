package partition

import (
	"container/heap"
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

// The final checks compare every disk with its replica, so the cluster only counts as
// converged once no write is on its way to a disk: seed 1025 once ended with a
// follower's DeleteBelow done and the LeaderEpochs emitted with it still queued, and the
// checkpoint on disk looked stale.
func TestConvergedWaitsForDiskWrites(t *testing.T) {
	w := runWorld(0, plant.Set{}, nil, false)
	if len(w.failures) > 0 || !w.converged() {
		t.Fatalf("seed 0 did not end converged: %v", w.failures)
	}
	var n *snode
	for _, m := range w.nodes {
		if m.id != w.ctrl.st.Leader {
			n = m
			break
		}
	}
	n.r.persistEpochs()
	w.pump(n)
	if !writing(n.r) {
		t.Fatal("persistEpochs emitted no op")
	}
	if w.converged() {
		t.Fatal("converged with a LeaderEpochs op outstanding on a follower")
	}
	for steps := 0; writing(n.r); steps++ {
		if steps > 10000 || len(w.events) == 0 {
			t.Fatal("the LeaderEpochs op never completed")
		}
		e := heap.Pop(&w.events).(event)
		w.now = e.at
		e.fn()
	}
	if !w.converged() {
		t.Fatalf("not converged once the op is done: %s", w.describe())
	}
	w.finalChecks()
	if len(w.failures) > 0 {
		t.Fatalf("final checks: %v", w.failures)
	}
}
