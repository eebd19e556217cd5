package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sim/simtest"
)

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"sim", "bogus"},
		{"sim", "run"},
		{"sim", "run", "--seed", "x"},
		{"sim", "run", "--seed", "1", "extra"},
		{"sim", "sweep"},
		{"sim", "sweep", "--seeds", "5", "--jobs", "0"},
		{"sim", "sweep", "--seeds", "5", "--shard", "0/2"},
		{"sim", "sweep", "--seeds", "5", "--shard", "3/2"},
		{"sim", "sweep", "--seeds", "5", "--shard", "half"},
		{"sim", "merge"},
		{"sim", "merge", "--bogus", "dir"},
		{"trace"},
		{"trace", "show"},
		{"trace", "show", "a", "b"},
		{"trace", "show", "f", "--node", "x"},
		{"trace", "show", "f", "--partition", "nopart"},
		{"trace", "show", "f", "--from", "2s", "--to", "1s"},
		{"trace", "html", "f"},
		{"sim", "run", "--seed", "1", "--scenario", "f"},
		{"sim", "run", "--scenario", "f", "--plant", "idempotent-dup"},
		{"sim", "shrink"},
		{"sim", "shrink", "a", "b"},
		{"sim", "shrink", "f", "--jobs", "0"},
		{"sim", "shrink", "f", "--max-replays", "-1"},
	} {
		if code := dispatch(args); code != exitUsage {
			t.Errorf("seedlog %s: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
}

// writeFailingTrace runs the toy simulation's seeds until one fails, writes its trace
// to dir/seed.trace and returns the path and the run.
func writeFailingTrace(t *testing.T, dir string) (string, sim.Result) {
	t.Helper()
	for seed := uint64(1); seed <= 200; seed++ {
		opts := simtest.Options(seed, true)
		if r := sim.Run(opts); r.Failure != nil {
			opts.KeepTrace = true
			r = sim.Run(opts)
			path := filepath.Join(dir, "seed.trace")
			if err := r.Trace.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			return path, r
		}
	}
	t.Fatal("no failing seed in 200")
	return "", sim.Result{}
}

func TestTraceCommandsRenderAFailingSeed(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeFailingTrace(t, dir)
	for _, args := range [][]string{
		{"trace", "show", path},
		{"trace", "show", path, "--node", "1", "--from", "1s", "--to", "5s"},
		{"trace", "show", path, "--partition", "t0/0"},
	} {
		if code := dispatch(args); code != exitOK {
			t.Errorf("seedlog %s: exit %d", strings.Join(args, " "), code)
		}
	}
	out := filepath.Join(dir, "seed.html")
	if code := dispatch([]string{"trace", "html", path, "-o", out}); code != exitOK {
		t.Fatalf("trace html: exit %d", code)
	}
	page, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "srcdoc=") {
		t.Fatalf("html page: %v, %d bytes", err, len(page))
	}
	if code := dispatch([]string{"trace", "show", filepath.Join(dir, "missing.trace")}); code != exitProblem {
		t.Fatalf("missing file: exit %d, want %d", code, exitProblem)
	}
}

// sim shrink writes a scenario that fails as the trace did, sim run --scenario replays
// it, and the trace of the replay marks its steps and verifies.
func TestShrinkAndReplayAScenario(t *testing.T) {
	dir := t.TempDir()
	saved := simBase
	defer func() { simBase = saved }()
	simBase = simtest.Options(0, true)
	path, failing := writeFailingTrace(t, dir)
	scenario := filepath.Join(dir, "shrunk.scenario")
	if code := dispatch([]string{"sim", "shrink", path, "-o", scenario, "--max-replays", "300", "-q"}); code != exitOK {
		t.Fatalf("sim shrink: exit %d", code)
	}
	text, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.ParseScenario(string(text))
	if err != nil {
		t.Fatal(err)
	}
	faults, ops := sc.Schedule.Counts()
	before, beforeOps := failing.Schedule.Counts()
	if faults+ops == 0 || faults+ops >= before+beforeOps || !strings.Contains(string(text), "# Shrunk by seedlog sim shrink") {
		t.Fatalf("scenario of %d faults and %d operations (from %d and %d):\n%s", faults, ops, before, beforeOps, text)
	}
	replayTrace := filepath.Join(dir, "replay.trace")
	if code := dispatch([]string{"sim", "run", "--scenario", scenario, "--trace", replayTrace, "-q"}); code != exitFailed {
		t.Fatalf("sim run --scenario: exit %d, want %d (it fails)", code, exitFailed)
	}
	page := filepath.Join(dir, "replay.html")
	if code := dispatch([]string{"trace", "html", replayTrace, "-o", page}); code != exitOK {
		t.Fatalf("trace html: exit %d", code)
	}
	html, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(html), "Scenario steps") || !strings.Contains(string(html), "<polygon") {
		t.Fatalf("the page does not mark the scenario's steps (%v)", err)
	}
	if code := dispatch([]string{"sim", "shrink", replayTrace, "-o", filepath.Join(dir, "again.scenario"), "-q"}); code != exitOK {
		t.Fatalf("sim shrink of a scenario's trace: exit %d", code)
	}
}

// Two shards of a sweep, run by the CLI, merge into the whole sweep; without one of
// them the merge fails and says which is missing.
func TestSimSweepShardsMerge(t *testing.T) {
	dir := t.TempDir()
	for _, shard := range []string{"1/2", "2/2"} {
		if code := dispatch([]string{"sim", "sweep", "--seeds", "2", "--start", "3", "--jobs", "2", "--shard", shard, "--out", dir}); code != exitOK {
			t.Fatalf("sim sweep --shard %s: exit %d", shard, code)
		}
	}
	for _, name := range []string{"shard-1-of-2.json", "shard-2-of-2.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if code := dispatch([]string{"sim", "merge", dir}); code != exitOK {
		t.Fatalf("sim merge of both shards: exit %d", code)
	}
	if code := dispatch([]string{"sim", "merge", filepath.Join(dir, "shard-2-of-2.json")}); code != exitFailed {
		t.Fatalf("sim merge without shard 1/2: exit %d, want %d", code, exitFailed)
	}
	if code := dispatch([]string{"sim", "merge", filepath.Join(dir, "missing")}); code != exitProblem {
		t.Fatalf("sim merge of a missing directory: exit %d, want %d", code, exitProblem)
	}
}
