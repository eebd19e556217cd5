package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard names part Index (1-based) of Count disjoint parts of a sweep's seed range, so
// that several machines can run one sweep: shard K of N runs the K-th of N contiguous
// blocks of seeds, whose sizes differ by at most one (see Range). Every seed is in
// exactly one shard, and a seed's result does not depend on the shard that ran it. The
// zero Shard is the whole sweep, as is 1/1.
type Shard struct {
	Index int
	Count int
}

// ParseShard reads "K/N" with 1 <= K <= N.
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want K/N, e.g. 2/8", s)
	}
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want K/N with whole numbers, e.g. 2/8", s)
	}
	sh := Shard{Index: ki, Count: ni}
	if err := sh.validate(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

func (s Shard) validate() error {
	if s.Count < 1 || s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf("shard %d/%d: want K/N with 1 <= K <= N", s.Index, s.Count)
	}
	return nil
}

// norm returns the shard with the zero Shard spelled 1/1.
func (s Shard) norm() Shard {
	if s.Count == 0 {
		return Shard{Index: 1, Count: 1}
	}
	return s
}

// Whole reports whether the shard is the whole sweep.
func (s Shard) Whole() bool { return s.norm().Count == 1 }

func (s Shard) String() string {
	s = s.norm()
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Range returns the seeds of the shard within a sweep of seeds seeds from start: the
// seeds start+lo .. start+hi-1 with lo = (K-1)*seeds/N and hi = K*seeds/N (integer
// division). A shard of a sweep with fewer seeds than shards may hold none.
func (s Shard) Range(start uint64, seeds int) (first uint64, n int) {
	s = s.norm()
	total := int64(max(seeds, 0))
	lo := int64(s.Index-1) * total / int64(s.Count)
	hi := int64(s.Index) * total / int64(s.Count)
	return start + uint64(lo), int(hi - lo)
}
