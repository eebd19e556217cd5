package sweep

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// ResultFormat names the format of result files; a reader refuses any other.
const ResultFormat = "seedlog-sweep-result/1"

// ResultFile is what one shard of a sweep (or a whole sweep, shard 1/1) writes beside
// the traces of its failing seeds, as JSON: enough to merge the shards of a sweep into
// one summary and to tell a missing or overlapping shard. Durations are nanoseconds,
// fingerprints 16 hex digits.
type ResultFile struct {
	Format string      `json:"format"`
	Sweep  ResultSweep `json:"sweep"`
	Shard  ResultShard `json:"shard"`
	Jobs   int         `json:"jobs"`
	WallNS int64       `json:"wall_ns"`
	// Skipped counts seeds of the shard not run (a sweep that stops at its first
	// failure).
	Skipped  int             `json:"skipped"`
	Seeds    []ResultSeed    `json:"seeds"`
	Failures []ResultFailure `json:"failures"`
	Allowed  []ResultNotes   `json:"allowed"`
	Unknown  []ResultNotes   `json:"unknown"`
	Coverage sim.Coverage    `json:"coverage"`
	// SeedsWith counts, per coverage counter, the seeds in which it was non-zero.
	SeedsWith sim.Coverage `json:"seeds_with,omitempty"`
}

// ResultSweep identifies the sweep a shard belongs to: shards merge only when all of
// these agree.
type ResultSweep struct {
	Start      uint64   `json:"start"`
	Seeds      int      `json:"seeds"`
	FlushAsync bool     `json:"flush_async"`
	Byzantine  bool     `json:"byzantine"`
	Plants     []string `json:"plants"`
	BuildTags  []string `json:"build_tags"`
	// DurationNS is the safety phase's length of every seed (0: each seed's draw).
	DurationNS int64 `json:"duration_ns,omitempty"`
	// Build is the binary's VCS revision ("+modified" when its tree had changes), empty
	// when the binary does not know it.
	Build string `json:"build"`
}

// ResultShard is the shard: K of N, and the seeds it holds (First .. First+Seeds-1).
type ResultShard struct {
	Index int    `json:"index"`
	Count int    `json:"count"`
	First uint64 `json:"first"`
	Seeds int    `json:"seeds"`
}

// ResultSeed is one seed run.
type ResultSeed struct {
	Seed        uint64 `json:"seed"`
	Fingerprint string `json:"fingerprint"`
	Events      int64  `json:"events"`
	VirtualNS   int64  `json:"virtual_ns"`
	WallNS      int64  `json:"wall_ns"`
	Ops         int    `json:"ops"`
	// Failovers are the seed's failover times, as sim.Result.Failovers has them.
	Failovers []ResultFailover `json:"failovers,omitempty"`
}

// ResultFailover is one sim.Failover: NS is its time, -1 when unmeasured, and By the
// broker that answered the success that ended it.
type ResultFailover struct {
	Kind      string `json:"kind"`
	Node      int32  `json:"node"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	AtNS      int64  `json:"at_ns"`
	NS        int64  `json:"ns"`
	By        int32  `json:"by"`
}

// ResultFailure is one failing seed. Trace is the trace file's name, in the directory
// of the result file; empty when none was written (TraceError says why).
type ResultFailure struct {
	Seed       uint64 `json:"seed"`
	Checker    string `json:"checker"`
	Message    string `json:"message"`
	AtNS       int64  `json:"at_ns"`
	Node       int32  `json:"node"`
	Trace      string `json:"trace,omitempty"`
	TraceError string `json:"trace_error,omitempty"`
	Config     string `json:"config"`
}

// ResultNotes lists what a seed's configuration allowed to go wrong, or the checks of
// a seed that ran out of time.
type ResultNotes struct {
	Seed  uint64   `json:"seed"`
	Notes []string `json:"notes"`
}

// ResultName is the name of a shard's result file.
func ResultName(sh Shard) string {
	sh = sh.norm()
	return fmt.Sprintf("shard-%d-of-%d.json", sh.Index, sh.Count)
}

// buildRevision is the binary's VCS revision, when it was stamped.
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "+modified"
	}
	return rev
}

// Result describes the summary as a result file.
func (s *Summary) Result() ResultFile {
	sh := s.Shard.norm()
	first, n := sh.Range(s.Start, s.Total)
	r := ResultFile{
		Format: ResultFormat,
		Sweep: ResultSweep{Start: s.Start, Seeds: s.Total, FlushAsync: s.FlushAsync, Byzantine: s.Byzantine,
			Plants: nonNil(s.Plants), BuildTags: nonNil(sim.BuildTags()), Build: buildRevision()},
		Shard:    ResultShard{Index: sh.Index, Count: sh.Count, First: first, Seeds: n},
		Jobs:     s.Jobs,
		WallNS:   int64(s.Wall),
		Skipped:  s.Skipped,
		Seeds:    []ResultSeed{},
		Failures: []ResultFailure{},
		Allowed:  []ResultNotes{},
		Unknown:  []ResultNotes{},
		Coverage: s.Coverage,
	}
	r.SeedsWith = s.SeedsWith
	r.Sweep.DurationNS = int64(s.Duration)
	if r.Coverage == nil {
		r.Coverage = sim.Coverage{}
	}
	for _, x := range s.Seeds {
		rs := ResultSeed{Seed: x.Seed, Fingerprint: fmt.Sprintf("%016x", x.Fingerprint),
			Events: x.Events, VirtualNS: int64(x.Virtual), WallNS: int64(x.Wall), Ops: x.Ops}
		for _, f := range x.Failovers {
			rs.Failovers = append(rs.Failovers, ResultFailover{Kind: f.Kind, Node: f.Node, Topic: f.Topic, Partition: f.Partition,
				AtNS: int64(f.At), NS: int64(f.Time), By: f.By})
		}
		r.Seeds = append(r.Seeds, rs)
		if f := x.Failure; f != nil {
			trace := ""
			if x.TracePath != "" {
				trace = filepath.Base(x.TracePath)
			}
			r.Failures = append(r.Failures, ResultFailure{Seed: x.Seed, Checker: f.Checker, Message: f.Message, AtNS: f.At,
				Node: f.Node, Trace: trace, TraceError: x.TraceError, Config: x.Config})
		}
		if len(x.Allowed) > 0 {
			r.Allowed = append(r.Allowed, ResultNotes{Seed: x.Seed, Notes: x.Allowed})
		}
		if len(x.Unknown) > 0 {
			r.Unknown = append(r.Unknown, ResultNotes{Seed: x.Seed, Notes: x.Unknown})
		}
	}
	return r
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// WriteResultFile writes the summary's result file into dir (created if needed), where
// the traces of its failing seeds are, and returns its path.
func (s *Summary) WriteResultFile(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(s.Result(), "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, ResultName(s.Shard))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// ReadResultFile reads a result file.
func ReadResultFile(path string) (ResultFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ResultFile{}, err
	}
	var r ResultFile
	if err := json.Unmarshal(data, &r); err != nil {
		return ResultFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if r.Format != ResultFormat {
		return ResultFile{}, fmt.Errorf("%s: format %q, want %q", path, r.Format, ResultFormat)
	}
	sh := Shard{Index: r.Shard.Index, Count: r.Shard.Count}
	if err := sh.validate(); err != nil {
		return ResultFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// FindResultFiles returns the result files named by args: a directory stands for every
// shard-K-of-N.json in it, a file for itself. Paths come out sorted per argument.
func FindResultFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "shard-*-of-*.json"))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: %w: no shard-K-of-N.json result file", a, fs.ErrNotExist)
		}
		slices.Sort(matches)
		out = append(out, matches...)
	}
	return out, nil
}

// Merged is the outcome of joining result files.
type Merged struct {
	// Summary holds every seed of every file, in seed order, with trace paths resolved
	// against the directories of the files; its Wall is the longest shard's.
	Summary Summary
	// Files are the files merged; WallTotal sums their shards' wall times.
	Files     []string
	WallTotal time.Duration
	// Problems says what makes the files not one whole sweep: shards or seeds missing
	// or overlapping, or shards of different sweeps. Empty when they are.
	Problems []string
	// dup marks the files holding a shard an earlier file holds too.
	dup map[int]bool
}

// Merge joins the result files at paths (read with ReadResultFile) into one summary of
// their sweep and checks that every seed of the sweep ran in exactly one of them.
func Merge(paths []string) (Merged, error) {
	var files []ResultFile
	for _, p := range paths {
		r, err := ReadResultFile(p)
		if err != nil {
			return Merged{}, err
		}
		files = append(files, r)
	}
	if len(files) == 0 {
		return Merged{}, errors.New("no result files to merge")
	}
	m := Merged{Files: paths, dup: map[int]bool{}}
	m.checkSameSweep(files)
	m.checkShards(files)
	sw := files[0].Sweep
	s := Summary{Coverage: sim.Coverage{}, SeedsWith: sim.Coverage{}, FlushAsync: sw.FlushAsync, Start: sw.Start, Total: sw.Seeds,
		Plants: sw.Plants, Byzantine: sw.Byzantine, Duration: time.Duration(sw.DurationNS)}
	// A seed that ran in several files counts once, from the first of them.
	ran := map[uint64]bool{}
	for i, r := range files {
		m.WallTotal += time.Duration(r.WallNS)
		s.Wall = max(s.Wall, time.Duration(r.WallNS))
		if m.dup[i] {
			continue
		}
		s.Skipped += r.Skipped
		s.Coverage.Merge(r.Coverage)
		s.SeedsWith.Merge(r.SeedsWith)
		seeds, err := r.summarySeeds(filepath.Dir(paths[i]))
		if err != nil {
			return Merged{}, fmt.Errorf("%s: %w", paths[i], err)
		}
		for _, x := range seeds {
			if !ran[x.Seed] {
				ran[x.Seed] = true
				s.Seeds = append(s.Seeds, x)
			}
		}
	}
	slices.SortFunc(s.Seeds, func(a, b Seed) int { return cmp.Compare(a.Seed, b.Seed) })
	m.checkSeeds(files, paths)
	m.Summary = s
	return m, nil
}

// summarySeeds turns a file's seeds back into sweep results.
func (r *ResultFile) summarySeeds(dir string) ([]Seed, error) {
	failures := map[uint64]ResultFailure{}
	for _, f := range r.Failures {
		failures[f.Seed] = f
	}
	notes := func(list []ResultNotes) map[uint64][]string {
		m := map[uint64][]string{}
		for _, n := range list {
			m[n.Seed] = n.Notes
		}
		return m
	}
	allowed, unknown := notes(r.Allowed), notes(r.Unknown)
	var out []Seed
	for _, x := range r.Seeds {
		fp, err := strconv.ParseUint(x.Fingerprint, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("seed %d: fingerprint %q", x.Seed, x.Fingerprint)
		}
		s := Seed{Seed: x.Seed, Fingerprint: fp, Events: x.Events, Virtual: time.Duration(x.VirtualNS),
			Wall: time.Duration(x.WallNS), Ops: x.Ops, Allowed: allowed[x.Seed], Unknown: unknown[x.Seed]}
		for _, f := range x.Failovers {
			s.Failovers = append(s.Failovers, sim.Failover{Kind: f.Kind, Node: f.Node, TopicPartition: sim.TopicPartition{Topic: f.Topic, Partition: f.Partition},
				At: time.Duration(f.AtNS), Time: time.Duration(f.NS), By: f.By})
		}
		if f, ok := failures[x.Seed]; ok {
			s.Failure = &sim.Failure{Checker: f.Checker, Message: f.Message, At: f.AtNS, Node: f.Node}
			s.TraceError, s.Config = f.TraceError, f.Config
			if f.Trace != "" {
				s.TracePath = filepath.Join(dir, f.Trace)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// checkSameSweep reports files that belong to another sweep than the first.
func (m *Merged) checkSameSweep(files []ResultFile) {
	a := files[0].Sweep
	for i, r := range files[1:] {
		b := r.Sweep
		var diffs []string
		if a.Start != b.Start || a.Seeds != b.Seeds {
			diffs = append(diffs, fmt.Sprintf("seeds %s, not %s", seedRange(b.Start, b.Seeds), seedRange(a.Start, a.Seeds)))
		}
		if a.FlushAsync != b.FlushAsync || a.Byzantine != b.Byzantine || a.DurationNS != b.DurationNS || !slices.Equal(a.Plants, b.Plants) || !slices.Equal(a.BuildTags, b.BuildTags) {
			diffs = append(diffs, fmt.Sprintf("options %s, not %s", b.options(), a.options()))
		}
		if a.Build != "" && b.Build != "" && a.Build != b.Build {
			diffs = append(diffs, fmt.Sprintf("build %s, not %s", b.Build, a.Build))
		}
		if len(diffs) > 0 {
			m.Problems = append(m.Problems, fmt.Sprintf("MIXED %s belongs to another sweep than %s: %s", m.Files[i+1], m.Files[0], strings.Join(diffs, "; ")))
		}
	}
}

func (s ResultSweep) options() string {
	o := fmt.Sprintf("flush=%s byzantine=%v plants=%s tags=%s", map[bool]string{false: "sync", true: "async"}[s.FlushAsync], s.Byzantine,
		strings.Join(s.Plants, ","), strings.Join(s.BuildTags, ","))
	if s.DurationNS > 0 {
		o += fmt.Sprintf(" duration=%v", time.Duration(s.DurationNS))
	}
	return "[" + o + "]"
}

// checkShards reports shards that appear twice, and the missing shards when every file
// cuts the sweep into the same number of shards.
func (m *Merged) checkShards(files []ResultFile) {
	seen := map[[2]int]string{}
	counts := map[int]bool{}
	for i, r := range files {
		k := [2]int{r.Shard.Index, r.Shard.Count}
		if prev, dup := seen[k]; dup {
			m.Problems = append(m.Problems, fmt.Sprintf("OVERLAP shard %d/%d is in %s and in %s%s", k[0], k[1], prev, m.Files[i], m.sameSeeds(files, prev, i)))
			m.dup[i] = true
			continue
		}
		seen[k] = m.Files[i]
		counts[r.Shard.Count] = true
	}
	if len(counts) != 1 {
		return // mixed splits: the seed check says what is missing or twice
	}
	n := files[0].Shard.Count
	sw := files[0].Sweep
	for k := 1; k <= n; k++ {
		if _, ok := seen[[2]int{k, n}]; !ok {
			first, cnt := Shard{Index: k, Count: n}.Range(sw.Start, sw.Seeds)
			m.Problems = append(m.Problems, fmt.Sprintf("MISSING shard %d/%d (seeds %s): no result file", k, n, seedRange(first, cnt)))
		}
	}
}

// checkSeeds checks that every seed of the sweep ran exactly once, and each file ran
// only seeds of its shard. Missing whole shards were reported by checkShards; the
// seeds they hold are not listed again.
func (m *Merged) checkSeeds(files []ResultFile, paths []string) {
	sw := files[0].Sweep
	where := map[uint64]int{}
	fps := map[uint64]string{}
	var twice []string
	for i, r := range files {
		if m.dup[i] {
			continue // reported as a shard present twice
		}
		for _, x := range r.Seeds {
			if x.Seed < r.Shard.First || x.Seed >= r.Shard.First+uint64(r.Shard.Seeds) {
				twice = append(twice, fmt.Sprintf("OVERLAP %s ran seed %d, outside its shard %d/%d (seeds %s)",
					paths[i], x.Seed, r.Shard.Index, r.Shard.Count, seedRange(r.Shard.First, r.Shard.Seeds)))
			}
			if j, dup := where[x.Seed]; dup {
				differ := ""
				if fps[x.Seed] != x.Fingerprint {
					differ = fmt.Sprintf(", with fingerprints %s and %s", fps[x.Seed], x.Fingerprint)
				}
				twice = append(twice, fmt.Sprintf("OVERLAP seed %d ran in %s and in %s%s", x.Seed, paths[j], paths[i], differ))
				continue
			}
			where[x.Seed], fps[x.Seed] = i, x.Fingerprint
		}
	}
	m.Problems = append(m.Problems, capList(twice, 10)...)
	covered := map[uint64]bool{}
	if counts := shardCounts(files); len(counts) == 1 {
		n := files[0].Shard.Count
		for k := 1; k <= n; k++ {
			if !slices.ContainsFunc(files, func(r ResultFile) bool { return r.Shard.Index == k }) {
				first, cnt := Shard{Index: k, Count: n}.Range(sw.Start, sw.Seeds)
				for s := first; s < first+uint64(cnt); s++ {
					covered[s] = true // reported as a missing shard
				}
			}
		}
	}
	var missing []uint64
	for s := sw.Start; s < sw.Start+uint64(max(sw.Seeds, 0)); s++ {
		if _, ok := where[s]; !ok && !covered[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		m.Problems = append(m.Problems, fmt.Sprintf("MISSING %d seeds of the sweep ran in no file: %s", len(missing), seedList(missing)))
	}
}

// sameSeeds says whether two files of one shard ran the same seeds to the same
// fingerprints (a shard run twice), for the report.
func (m *Merged) sameSeeds(files []ResultFile, prevPath string, i int) string {
	j := slices.Index(m.Files, prevPath)
	a, b := files[j].Seeds, files[i].Seeds
	if slices.EqualFunc(a, b, func(x, y ResultSeed) bool { return x.Seed == y.Seed && x.Fingerprint == y.Fingerprint }) {
		return " (the same seeds and fingerprints; counted once)"
	}
	return " (with different seeds or fingerprints; the first counts)"
}

func shardCounts(files []ResultFile) map[int]bool {
	c := map[int]bool{}
	for _, r := range files {
		c[r.Shard.Count] = true
	}
	return c
}

// capList keeps the first n lines and says how many more there were.
func capList(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(lines[:n:n], fmt.Sprintf("... and %d more", len(lines)-n))
}

// seedList prints seeds as ranges ("3..7 12"), at most a few dozen of them.
func seedList(seeds []uint64) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d..%d", seeds[i], seeds[j]))
		} else {
			parts = append(parts, fmt.Sprint(seeds[i]))
		}
		i = j + 1
	}
	if len(parts) > 20 {
		parts = append(parts[:20], fmt.Sprintf("and %d more ranges", len(parts)-20))
	}
	return strings.Join(parts, " ")
}

func seedRange(first uint64, n int) string {
	if n <= 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d", first, first+uint64(n)-1)
}

// Write prints the merge: the files, what makes them not one whole sweep, then the
// summary of every seed they hold.
func (m *Merged) Write(w io.Writer) {
	s := &m.Summary
	fmt.Fprintf(w, "merged %d result files of the sweep of seeds %s: %v of sweep time in all, the longest shard %v\n",
		len(m.Files), seedRange(s.Start, s.Total), m.WallTotal.Round(time.Millisecond), s.Wall.Round(time.Millisecond))
	for _, p := range m.Problems {
		fmt.Fprintln(w, p)
	}
	s.Write(w)
}
