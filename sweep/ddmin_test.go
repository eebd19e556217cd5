package sweep

import (
	"slices"
	"sync/atomic"
	"testing"
)

func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// containsAll is a synthetic failure: the run fails when every culprit is kept.
func containsAll(culprits ...int) func([]int) bool {
	return func(keep []int) bool {
		for _, c := range culprits {
			if _, ok := slices.BinarySearch(keep, c); !ok {
				return false
			}
		}
		return true
	}
}

func TestDDMinFindsTheCulprits(t *testing.T) {
	for _, jobs := range []int{1, 2, 5} {
		var calls atomic.Int64
		fails := containsAll(7, 99, 150)
		m := &Minimizer{Fails: func(keep []int) bool { calls.Add(1); return fails(keep) }, Jobs: jobs}
		got := m.DDMin(upTo(300))
		if !slices.Equal(got, []int{7, 99, 150}) {
			t.Fatalf("jobs %d: ddmin kept %v, want [7 99 150]", jobs, got)
		}
		if m.Exhausted() || int64(m.Tests()) != calls.Load() {
			t.Fatalf("jobs %d: exhausted %v, %d tests counted, %d run", jobs, m.Exhausted(), m.Tests(), calls.Load())
		}
		if m.Tests() > 200 {
			t.Fatalf("jobs %d: %d tests for 3 culprits among 300", jobs, m.Tests())
		}
	}
}

// With culprits that act together or alone, the result is 1-minimal: removing any
// one item it kept makes the test pass; and it does not depend on Jobs.
func TestDDMinIsOneMinimal(t *testing.T) {
	pair, single := containsAll(40, 41), containsAll(170)
	fails := func(keep []int) bool { return pair(keep) || single(keep) }
	var first []int
	for _, jobs := range []int{1, 4} {
		m := &Minimizer{Fails: fails, Jobs: jobs}
		got := m.DDMin(upTo(200))
		if !fails(got) {
			t.Fatalf("ddmin returned %v, which passes", got)
		}
		for i := range got {
			if fails(slices.Delete(slices.Clone(got), i, i+1)) {
				t.Fatalf("ddmin returned %v: %d is not needed", got, got[i])
			}
		}
		if first == nil {
			first = got
		} else if !slices.Equal(first, got) {
			t.Fatalf("jobs changed the result: %v then %v", first, got)
		}
	}
}

func TestDDMinStopsAtItsBudget(t *testing.T) {
	m := &Minimizer{Fails: containsAll(3, 333), Jobs: 2, Budget: func(tests int) bool { return tests < 6 }}
	got := m.DDMin(upTo(1000))
	if !m.Exhausted() || m.Tests() > 7 {
		t.Fatalf("exhausted %v after %d tests", m.Exhausted(), m.Tests())
	}
	if !containsAll(3, 333)(got) || len(got) >= 1000 {
		t.Fatalf("kept %d items: they pass, or nothing was removed", len(got))
	}
}

// A failure that needs nothing shrinks to nothing; one that needs one item keeps it.
func TestDDMinDownToNothing(t *testing.T) {
	m := &Minimizer{Fails: func([]int) bool { return true }, Jobs: 2}
	if got := m.DDMin(upTo(50)); len(got) != 0 {
		t.Fatalf("kept %v of a failure that needs nothing", got)
	}
	m = &Minimizer{Fails: containsAll(9), Jobs: 2}
	if got := m.DDMin(upTo(50)); !slices.Equal(got, []int{9}) {
		t.Fatalf("kept %v, want [9]", got)
	}
}

func TestGroupsRemovesWholeGroups(t *testing.T) {
	m := &Minimizer{Fails: containsAll(5, 12), Jobs: 3}
	groups := [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7}, {8, 9, 10, 11}, {12, 13}, {14, 15, 16, 17, 18, 19}}
	got := m.Groups("groups", upTo(20), groups)
	if want := []int{3, 4, 5, 12, 13}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
}
