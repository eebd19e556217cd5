package sweep

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sim/simtest"
)

// Every seed of a sweep is in exactly one shard, shards are contiguous blocks in shard
// order, and their sizes differ by at most one.
func TestShardsCutTheSeedsOnce(t *testing.T) {
	for _, c := range []struct {
		start uint64
		seeds int
	}{{1, 1000}, {7, 10}, {1, 3}, {100, 0}, {1, 1}} {
		for n := 1; n <= 12; n++ {
			next := c.start
			lo, hi := c.seeds, 0
			for k := 1; k <= n; k++ {
				first, cnt := Shard{Index: k, Count: n}.Range(c.start, c.seeds)
				if first != next {
					t.Fatalf("seeds %d from %d, shard %d/%d starts at %d, want %d", c.seeds, c.start, k, n, first, next)
				}
				next += uint64(cnt)
				lo, hi = min(lo, cnt), max(hi, cnt)
			}
			if next != c.start+uint64(c.seeds) {
				t.Fatalf("seeds %d from %d in %d shards: they end at %d", c.seeds, c.start, n, next)
			}
			if hi-lo > 1 {
				t.Fatalf("seeds %d in %d shards: sizes from %d to %d", c.seeds, n, lo, hi)
			}
		}
	}
	if first, n := (Shard{}).Range(5, 9); first != 5 || n != 9 {
		t.Fatalf("the zero shard is seeds %d+%d, want the whole sweep", first, n)
	}
}

func TestParseShard(t *testing.T) {
	if sh, err := ParseShard("3/8"); err != nil || sh != (Shard{Index: 3, Count: 8}) {
		t.Fatalf("3/8: %v %v", sh, err)
	}
	for _, bad := range []string{"", "3", "0/4", "5/4", "1/0", "-1/4", "a/b", "1/2/3", "1 / 2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The same seed gives the same fingerprint whatever the number of jobs and the shard
// that ran it, and merging the result files of every shard gives the whole sweep's
// seeds, fingerprints and coverage.
func TestShardsAndJobsGiveEachSeedOneFingerprint(t *testing.T) {
	const seeds, start = 8, 1
	whole := Run(Config{Base: sim.Options{}, Seeds: seeds, Start: start, Jobs: 1})
	if first, ok := whole.FirstFailure(); ok && first.Failure.Checker == "setup" {
		t.Fatalf("the real node cannot run in this build: %v", first.Failure.Message)
	}
	want := whole.Fingerprints()
	if len(want) != seeds {
		t.Fatalf("%d seeds ran, want %d", len(want), seeds)
	}
	for _, split := range []struct{ shards, jobs int }{{3, 2}, {5, 1}} {
		dir := t.TempDir()
		got := map[uint64]uint64{}
		for k := 1; k <= split.shards; k++ {
			s := Run(Config{Base: sim.Options{}, Seeds: seeds, Start: start, Jobs: split.jobs, Shard: Shard{Index: k, Count: split.shards}})
			first, n := s.Shard.Range(start, seeds)
			if len(s.Seeds) != n || (n > 0 && s.Seeds[0].Seed != first) {
				t.Fatalf("shard %d/%d ran %d seeds, want %d from %d", k, split.shards, len(s.Seeds), n, first)
			}
			for seed, fp := range s.Fingerprints() {
				if _, dup := got[seed]; dup {
					t.Fatalf("seed %d ran in two shards of %d", seed, split.shards)
				}
				got[seed] = fp
			}
			if _, err := s.WriteResultFile(dir); err != nil {
				t.Fatal(err)
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%d shards with %d jobs: fingerprints %v, want %v", split.shards, split.jobs, got, want)
		}
		paths, err := FindResultFiles([]string{dir})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Merge(paths)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Problems) > 0 {
			t.Fatalf("problems merging a whole sweep: %v", m.Problems)
		}
		if !maps.Equal(m.Summary.Fingerprints(), want) || !maps.Equal(m.Summary.Coverage, whole.Coverage) {
			t.Fatalf("%d shards merged: fingerprints or coverage differ from the whole sweep's", split.shards)
		}
	}
}

// toyShards runs the toy's sweep of seeds 1..12 in n shards into dir.
func toyShards(t *testing.T, dir string, n int, ackEarly bool) {
	t.Helper()
	for k := 1; k <= n; k++ {
		s := Run(Config{Base: simtest.Options(0, ackEarly), Seeds: 12, Start: 1, Jobs: 2, Shard: Shard{Index: k, Count: n}, OutDir: dir})
		if _, err := s.WriteResultFile(dir); err != nil {
			t.Fatal(err)
		}
	}
}

func mergeDirs(t *testing.T, dirs ...string) (Merged, string) {
	t.Helper()
	paths, err := FindResultFiles(dirs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(paths)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m.Write(&out)
	return m, out.String()
}

func TestMergeSaysWhatIsMissingOrTwice(t *testing.T) {
	dir := t.TempDir()
	toyShards(t, dir, 3, false)
	m, out := mergeDirs(t, dir)
	if len(m.Problems) != 0 || len(m.Summary.Seeds) != 12 || !strings.Contains(out, "12 seeds, 0 failed") {
		t.Fatalf("a whole sweep:\n%s", out)
	}

	// A shard missing.
	lost := t.TempDir()
	for _, k := range []int{1, 3} {
		name := ResultName(Shard{Index: k, Count: 3})
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lost, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, out = mergeDirs(t, lost)
	if len(m.Problems) != 1 || !strings.Contains(out, "MISSING shard 2/3 (seeds 5..8)") {
		t.Fatalf("shard 2/3 missing:\n%s", out)
	}

	// A shard twice, and shards of another split covering seeds again.
	other := t.TempDir()
	toyShards(t, other, 2, false)
	_, out = mergeDirs(t, dir, lost)
	if !strings.Contains(out, "OVERLAP shard 1/3") || !strings.Contains(out, "12 seeds, 0 failed") {
		t.Fatalf("shards 1/3 and 3/3 twice:\n%s", out)
	}
	m, out = mergeDirs(t, dir, filepath.Join(other, ResultName(Shard{Index: 1, Count: 2})))
	if len(m.Problems) == 0 || !strings.Contains(out, "OVERLAP seed 1 ran in") {
		t.Fatalf("seeds 1..6 twice:\n%s", out)
	}

	// Shards of another sweep.
	async := t.TempDir()
	s := Run(Config{Base: func() sim.Options { o := simtest.Options(0, false); o.Byzantine = true; return o }(), Seeds: 12, Start: 1, Jobs: 2, Shard: Shard{Index: 2, Count: 3}})
	if _, err := s.WriteResultFile(async); err != nil {
		t.Fatal(err)
	}
	_, out = mergeDirs(t, lost, async)
	if !strings.Contains(out, "MIXED") {
		t.Fatalf("a shard of a byzantine sweep:\n%s", out)
	}
}

// Failing seeds keep their checker, message and trace through a result file.
func TestMergeReportsFailuresWithTheirTraces(t *testing.T) {
	dir := t.TempDir()
	toyShards(t, dir, 2, true) // the toy that acknowledges too early
	m, out := mergeDirs(t, dir)
	failed := m.Summary.Failed()
	if len(failed) == 0 {
		t.Fatalf("the early-acknowledging toy passed 12 seeds:\n%s", out)
	}
	f := failed[0]
	if f.Failure.Checker == "" || f.Failure.Message == "" || f.TracePath == "" || !strings.Contains(out, "FAIL seed ") {
		t.Fatalf("failure %+v:\n%s", f, out)
	}
	tr, err := ReadTrace(filepath.Dir(f.TracePath), f.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Header.Seed != f.Seed || tr.Header.Fingerprint != f.Fingerprint {
		t.Fatalf("trace of seed %d: header seed %d fingerprint %016x, result %016x", f.Seed, tr.Header.Seed, tr.Header.Fingerprint, f.Fingerprint)
	}
}
