package sweep

import (
	"encoding/binary"
	"sync"
)

// Minimizer searches for a small subset of items 0..n-1 on which a test still fails,
// by delta debugging (Zeller's ddmin: remove ever smaller chunks while the failure
// stays). Candidates are tested Jobs at a time, in a fixed order, and the first in
// that order that fails wins, so the answer does not depend on Jobs or on timing; only
// how much work is wasted does.
type Minimizer struct {
	// Fails runs the test on the items kept (ascending) and reports whether it still
	// fails. It is called from several goroutines at once and must be deterministic.
	Fails func(keep []int) bool
	// Jobs is how many candidates are tested at once (at least 1).
	Jobs int
	// Budget, when set, is asked before each batch of tests; false ends the search
	// with the best subset found so far.
	Budget func(tests int) bool
	// Progress, when set, is told of each step of the search: the stage, the tests so
	// far and the smallest failing subset found.
	Progress func(stage string, tests int, keep []int)

	tests     int
	cache     map[string]bool
	exhausted bool
}

// Tests is how many candidates were tested (the cache answers repeats).
func (m *Minimizer) Tests() int { return m.tests }

// Exhausted reports whether the budget ended the search early.
func (m *Minimizer) Exhausted() bool { return m.exhausted }

func candidateKey(keep []int) string {
	b := make([]byte, 0, 2*len(keep))
	prev := -1
	for _, i := range keep {
		b = binary.AppendUvarint(b, uint64(i-prev))
		prev = i
	}
	return string(b)
}

// first tests the candidates in order, Jobs at a time, and returns the index of the
// first that fails, or -1 (also when the budget ran out: see Exhausted).
func (m *Minimizer) first(cands [][]int) int {
	if m.cache == nil {
		m.cache = map[string]bool{}
	}
	jobs := max(m.Jobs, 1)
	for start := 0; start < len(cands); {
		// Answers already known need no test.
		if fails, ok := m.cache[candidateKey(cands[start])]; ok {
			if fails {
				return start
			}
			start++
			continue
		}
		if m.Budget != nil && !m.Budget(m.tests) {
			m.exhausted = true
			return -1
		}
		var batch []int
		for i := start; i < len(cands) && len(batch) < jobs; i++ {
			if _, ok := m.cache[candidateKey(cands[i])]; !ok {
				batch = append(batch, i)
			}
		}
		results := make([]bool, len(batch))
		var wg sync.WaitGroup
		for j, i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[j] = m.Fails(cands[i])
			}()
		}
		wg.Wait()
		m.tests += len(batch)
		for j, i := range batch {
			m.cache[candidateKey(cands[i])] = results[j]
		}
		for i := start; i <= batch[len(batch)-1]; i++ {
			if m.cache[candidateKey(cands[i])] {
				return i
			}
		}
		start = batch[len(batch)-1] + 1
	}
	return -1
}

func (m *Minimizer) progress(stage string, keep []int) {
	if m.Progress != nil {
		m.Progress(stage, m.tests, keep)
	}
}

// without returns keep minus the items of drop (both ascending).
func without(keep, drop []int) []int {
	out := make([]int, 0, len(keep))
	j := 0
	for _, k := range keep {
		for j < len(drop) && drop[j] < k {
			j++
		}
		if j < len(drop) && drop[j] == k {
			continue
		}
		out = append(out, k)
	}
	return out
}

// Groups removes whole groups of items from keep while the test still fails: each
// group in turn (in batches), keeping every removal that still fails. Groups are
// ascending index lists; items of keep in no group stay.
func (m *Minimizer) Groups(stage string, keep []int, groups [][]int) []int {
	for next := 0; next < len(groups) && !m.exhausted; {
		var cands [][]int
		var which []int
		for g := next; g < len(groups); g++ {
			c := without(keep, groups[g])
			if len(c) < len(keep) {
				cands = append(cands, c)
				which = append(which, g)
			}
		}
		if len(cands) == 0 {
			break
		}
		i := m.first(cands)
		if i < 0 {
			break
		}
		keep = cands[i]
		next = which[i] + 1
		m.progress(stage, keep)
	}
	return keep
}

// DDMin shrinks keep, which must fail, to a 1-minimal failing subset (removing any one
// item makes it pass; a single item is tested against the empty set too) unless the
// budget ends the search first.
func (m *Minimizer) DDMin(keep []int) []int {
	n := 2
	from := 0
	for len(keep) > 0 && !m.exhausted {
		n = min(n, len(keep))
		chunks := split(keep, n)
		// Complements, starting where the last removal succeeded: removing one chunk
		// at a time (for n = 2 a complement is the other half).
		cands := make([][]int, 0, n)
		for k := range n {
			cands = append(cands, without(keep, chunks[(from+k)%n]))
		}
		if i := m.first(cands); i >= 0 {
			keep = cands[i]
			from = (from + i) % n
			n = max(n-1, 2)
			m.progress("ddmin", keep)
			continue
		}
		if m.exhausted || n == len(keep) {
			break
		}
		n = min(2*n, len(keep))
		from = 0
		m.progress("ddmin", keep)
	}
	return keep
}

// split cuts s into n chunks of nearly equal size, in order.
func split(s []int, n int) [][]int {
	out := make([][]int, 0, n)
	for k := range n {
		lo, hi := k*len(s)/n, (k+1)*len(s)/n
		out = append(out, s[lo:hi])
	}
	return out
}
