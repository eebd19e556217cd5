//go:build simbugs

package controller

import (
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

// The planted bug ends the move with the new replica outside the ISR.
func TestReassignPlantCaught(t *testing.T) {
	cfg := testConfig(1)
	set, err := plant.Parse(plant.ReassignBeforeISR.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plants = set
	h := newHarnessConfig(t, cfg)
	h.cluster(4)
	tid := h.manualTopic("t", [][]int32{{1, 2, 3}})
	h.reassign("t", 0, []int32{4, 2, 3})
	h.advance(0)
	h.heartbeatAll()
	h.advance(moveRecheck)
	ps, _ := h.committed.Partition(tid, 0)
	if ps.Moving() || slices.Contains(ps.ISR, 4) {
		t.Fatalf("want the plant to finish without broker 4 in sync: %+v", ps)
	}
}
