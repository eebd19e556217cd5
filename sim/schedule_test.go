package sim_test

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sim/simtest"
	"github.com/seedlog/seedlog/traces"
)

// Replaying a seed's whole recorded schedule repeats the seed's run: same events, same
// fingerprint, same outcome, whether the schedule is passed as data or through its
// scenario file.
func TestScheduleReplayRepeatsTheRun(t *testing.T) {
	requireNode(t)
	// Seed 6 runs a transactional producer; seed 41 transactional producers whose
	// instances crash, some as zombies; seed 31 ones that also idle and abort sloppily;
	// seed 90 consume-transform-produce workers that crash and rebalance; seed 19 a
	// damaged aborted-transactions index met by a crash.
	for _, opts := range []sim.Options{{Seed: 1}, {Seed: 4}, {Seed: 6}, {Seed: 13, Byzantine: true}, {Seed: 19}, {Seed: 31}, {Seed: 41}, {Seed: 90}} {
		a := sim.Run(opts)
		if a.Failure != nil {
			t.Fatalf("seed %d fails: %v", opts.Seed, a.Failure)
		}
		faults, ops := a.Schedule.Counts()
		if faults == 0 || ops == 0 {
			t.Fatalf("seed %d recorded %d faults and %d client operations", opts.Seed, faults, ops)
		}
		sched := a.Schedule
		scripted := opts
		scripted.Schedule = &sched
		b := sim.Run(scripted)
		if b.Failure != nil || b.Fingerprint != a.Fingerprint || b.Events != a.Events {
			t.Fatalf("seed %d replayed: %v, fingerprint %016x (%d events), the seed's %016x (%d events)", opts.Seed, b.Failure, b.Fingerprint, b.Events, a.Fingerprint, a.Events)
		}
		if !reflect.DeepEqual(b.Schedule.Steps, a.Schedule.Steps) {
			t.Fatalf("seed %d: the replay applied another schedule", opts.Seed)
		}
		for i, st := range b.StepsDone {
			if st.Skipped != "" {
				t.Fatalf("seed %d: step %d (%s) not applied: %s", opts.Seed, i, st.Line, st.Skipped)
			}
		}
		sc, err := sim.ParseScenario(a.Scenario().String())
		if err != nil {
			t.Fatal(err)
		}
		c := sim.Run(sc.Options(sim.Options{}))
		if c.Fingerprint != a.Fingerprint {
			t.Fatalf("seed %d replayed from its scenario file: fingerprint %016x, the seed's %016x", opts.Seed, c.Fingerprint, a.Fingerprint)
		}
	}
}

// A scripted run is a function of its seed and schedule, and a thinned schedule still
// runs each step it keeps.
func TestScriptedRunIsDeterministic(t *testing.T) {
	requireNode(t)
	full := sim.Run(sim.Options{Seed: 3})
	var half sim.Schedule
	for i, st := range full.Schedule.Steps {
		if i%2 == 0 {
			half.Steps = append(half.Steps, st)
		}
	}
	opts := sim.Options{Seed: 3, Schedule: &half, KeepTrace: true}
	a, b := sim.Run(opts), sim.Run(opts)
	if a.Fingerprint != b.Fingerprint || a.Events != b.Events {
		t.Fatalf("a scripted run gave %016x (%d events), then %016x (%d events)", a.Fingerprint, a.Events, b.Fingerprint, b.Events)
	}
	if a.Fingerprint == full.Fingerprint {
		t.Fatal("half the schedule ran as the whole one")
	}
	if len(a.StepsDone) != len(half.Steps) {
		t.Fatalf("%d steps reported for %d", len(a.StepsDone), len(half.Steps))
	}
	if !a.Trace.Header.Scripted || len(a.Trace.Header.Steps) != len(half.Steps) {
		t.Fatal("the trace of a scripted run does not say so")
	}
	if err := traces.VerifyReplay(a.Trace.Header, sim.BuildTags(), sim.Replay(sim.Options{})); err != nil {
		t.Fatalf("trace verify of a scripted run: %v", err)
	}
}

// Steps apply at their times, those that cannot apply are skipped with a reason, and a
// client operation starts the operation it names.
func TestScriptedStepsApplyOrSkip(t *testing.T) {
	requireNode(t)
	const seed = 2
	probe := sim.Run(sim.Options{Seed: seed, NoFaults: true, Adjust: func(c *sim.Config) { c.SafetyDuration = time.Second }})
	producer := int32(0)
	for i, d := range probe.Clients {
		if strings.HasPrefix(d, "a producer") && producer == 0 {
			producer = int32(i + 1)
		}
	}
	topic := probe.Config.Data.Topics[0].Name
	if producer == 0 {
		t.Fatalf("seed %d has no producer: %v", seed, probe.Clients)
	}
	text := "seed 2\n" +
		"at 3s crash 1 down=2s\n" +
		"at 3.5s crash 1 down=1s        # node 1 is down: skipped\n" +
		"at 4s client " + strconv.Itoa(int(producer)) + " produce " + topic + "/0 records=2\n" +
		"at 4.5s pause 2 for=100ms\n"
	r := runScenarioText(t, text)
	t.Log(r.Summary())
	want := []string{"", "node 1 is down", "", ""}
	for i, st := range r.StepsDone {
		if st.Skipped != want[i] {
			t.Errorf("step %d (%s): skipped %q, want %q", i, st.Line, st.Skipped, want[i])
		}
	}
	if op := r.StepsDone[2].Op; op <= 0 || int(op) > len(r.History.Ops) {
		t.Fatalf("the produce step names op %d", op)
	} else if o := r.History.Ops[op-1]; o.Kind != sim.OpProduce || o.Client != producer || o.Call != int64(4*time.Second) || len(o.Values) != 2 {
		t.Fatalf("the produce step started %+v", o)
	}
	if got := r.Coverage["fault:crash"] + r.Coverage["fault:pause"]; got != 2 {
		t.Fatalf("%d crashes and pauses applied, want 2", got)
	}
	// A step for a client of another kind is refused before the run starts.
	bad, _ := sim.ParseScenario("seed 2\nat 1s client 1 produce " + topic + "/0 records=1\n")
	if r := sim.Run(bad.Options(sim.Options{})); r.Failure == nil || r.Failure.Checker != "setup" {
		t.Fatalf("a produce step for a metadata client: %v", r.Failure)
	}
}

// The scenario file format: every step kind reads back as written, a seed's whole
// schedule round-trips, and errors name their line.
func TestScenarioFileRoundTrip(t *testing.T) {
	text := `# a comment
seed 9
plants fetch-above-hw,idempotent-dup
mode flush-async
mode byzantine
duration 2m30s
at 1s crash 2 down=1.5s
at 1.000000001s crash 3 down=800ms arm=disk-op strike=12µs
at 1.1s crash 1 down=2s arm=answer:Produce strike=1ms
at 1.2s crash 1 down=2s arm=election then=now strike=300µs
at 1.3s crash 1 down=2s arm=election then=sync
at 1.4s crash 2 down=40ms on=write nth=1 strike=3µs
at 1.5s crash 2 down=4s on=election then=now strike=1µs
at 2s power-loss down=3s
at 2.5s pause 3 for=1s
at 3s isolate 2 for=1s
at 3s isolate c4 for=1s
at 3.1s split 1 2 c3 for=2s
at 3.2s cut 1->3 for=2s
at 3.3s bridge 1 <2> 3 for=2s
at 3.4s clog 2->c5 for=200ms
at 4s link-rates for=1s loss-ppm=1000 dup-ppm=2 reorder-ppm=30 break-ppm=4
at 4.1s disk-eio 1 for=1s write-ppm=10 sync-ppm=20
at 4.2s disk-enospc 1 for=1s ppm=30
at 4.3s read-corrupt 3 for=1s ppm=40
at 4.4s corrupt 2 file=__cluster_metadata-0/00000000000000000000.log offset=17 bytes=3
at 4.5s clock-jump 3 by=25ms
at 5s client 1 create-topic t1 partitions=3 rf=2
at 5s client 1 delete-topic t1
at 5s client 2 create-partitions t0 count=4
at 5s client 2 describe t0
at 5s client 3 list-brokers
at 5s client 6 produce d0/1 records=3
at 5s client 7 fetch d0/0 min-bytes=100
at 5s client 7 list-offsets d0/2 earliest
at 5s client 7 list-offsets d0/2 latest
at 5s client 7 list-offsets d0/2 max-timestamp
at 5s client 7 delete-records d0/2 offset=12
at 5s client 8 delete-records d0/1 offset=-1
at 5s client 9 add-partition d1
at 5s client 10 join g0
at 5s client 12 txn-start
at 5s client 12 txn-crash after=2 zombie
at 5s client 12 txn-crash after=0
at 5s client 13 txn-crash after=end
at 5s client 12 txn-idle
at 5s client 12 txn-sloppy hold=350ms
at 6s client 10 leave g0
at 6s client 11 offset-commit s0 d0/1 offset=7
at 6s client 11 offset-delete g0 d0 partition=-1
at 6s client 11 offset-delete s0 d1 partition=2
at 6s client 11 offset-fetch g0
at 30s leave-down 2 3
`
	sc, err := sim.ParseScenario(text)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Seed != 9 || len(sc.Plants) != 2 || !sc.FlushAsync || !sc.Byzantine || sc.Duration != 150*time.Second || len(sc.Schedule.Steps) != 47 {
		t.Fatalf("parsed %+v", sc)
	}
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "at ") {
			lines = append(lines, line)
		}
	}
	again := sc.String()
	for _, line := range lines {
		if !strings.Contains(again, line+"\n") {
			t.Errorf("formatted scenario lacks %q", line)
		}
	}
	sc2, err := sim.ParseScenario(again)
	if err != nil || !reflect.DeepEqual(sc2.Schedule, sc.Schedule) || sc2.Duration != sc.Duration {
		t.Fatalf("second round trip: %v", err)
	}
	faults, ops := sc.Schedule.Counts()
	if faults != 22 || ops != 25 {
		t.Fatalf("%d faults and %d operations, want 22 and 25", faults, ops)
	}

	for bad, want := range map[string]string{
		"at 1s crash 2 down=1s":                           "names no seed",
		"seed x":                                          `line 1: seed x: "x" is not a seed`,
		"seed 1\nat soon crash 2 down=1s":                 "line 2",
		"seed 1\nat 1s crash 2":                           "down= is required",
		"seed 1\nat 1s crash 2 down=1s arm=now":           "arm=",
		"seed 1\nat 1s crash 2 down=1s bogus=1":           "unknown argument bogus=",
		"seed 1\nat 1s explode 2":                         `unknown step "explode"`,
		"seed 1\nat 1s cut 1->1 for=1s":                   "itself",
		"seed 1\nat 1s client x produce d0/0 records=1":   "not a client id",
		"seed 1\nat 1s client 3 produce d0 records=1":     "TOPIC/PARTITION",
		"seed 1\nat 1s client 3 produce d0/0":             "records= is required",
		"seed 1\nat 1s client 3 list-offsets d0/0 middle": "earliest, latest or max-timestamp",
		"seed 1\nmode fast":                               "unknown mode",
		"seed 1\nduration soon":                           "not a positive duration",
		"seed 1\nat 1s client 3 delete-records d0/0":      "want an offset",
		"seed 1\nat 1s client 3 offset-delete g0 d0":      "want a partition",
		"seed 1\nat 1s client 3 offset-commit s0 d0/0":    "offset= is required",
		"seed 1\nbanana":                                  "unknown line",
		"seed 1\nat 1s client 3 txn-crash":                "after= is required",
		"seed 1\nat 1s client 3 txn-crash after=soon":     "a count of batches, or end",
		"seed 1\nat 1s client 3 txn-crash after=1 ghost":  "at most the word zombie",
		"seed 1\nat 1s client 3 txn-sloppy":               "hold= is required",
	} {
		if _, err := sim.ParseScenario(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", bad, err, want)
		}
	}
}

// A seed's recorded schedule reads back from its scenario file step for step.
func TestRecordedScheduleRoundTrips(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		r := sim.Run(simtest.Options(seed, false))
		sc, err := sim.ParseScenario(r.Scenario().String())
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if sc.Seed != seed || !reflect.DeepEqual(sc.Schedule.Steps, r.Schedule.Steps) {
			t.Fatalf("seed %d: the schedule changed on its way through the file", seed)
		}
	}
}

// A transactional producer is a schedule step: replaying a seed with transactions
// without it runs none of its transactions.
func TestScheduleTxnProducerStep(t *testing.T) {
	requireNode(t)
	a := sim.Run(sim.Options{Seed: 6})
	if a.Failure != nil {
		t.Fatal(a.Failure)
	}
	var without sim.Schedule
	starts := 0
	for _, st := range a.Schedule.Steps {
		if st.Kind == sim.StepTxnStart {
			starts++
			continue
		}
		without.Steps = append(without.Steps, st)
	}
	if starts != 1 || a.Coverage["txn:init"] == 0 {
		t.Fatalf("seed 6 recorded %d transactional producer starts (%d InitProducerIDs)", starts, a.Coverage["txn:init"])
	}
	b := sim.Run(sim.Options{Seed: 6, Schedule: &without})
	if b.Failure != nil {
		t.Fatal(b.Failure)
	}
	if n := b.Coverage["txn:init"] + b.Coverage["check:txns"]; n != 0 {
		t.Fatalf("without its start step the producer still ran (%d)", n)
	}
}

// What befalls a transaction (a crash, a zombie's late write, an idle past the
// timeout, a sloppy abort) is a schedule step of its own: a schedule without them runs
// the transactions without any, and one with a single crash dropped is still a
// deterministic run in which every crash took a step.
func TestScheduleTxnFateSteps(t *testing.T) {
	requireNode(t)
	fates := []sim.StepKind{sim.StepTxnCrash, sim.StepTxnIdle, sim.StepTxnSloppy}
	befell := func(r sim.Result) int64 {
		return r.Coverage["txn:crash"] + r.Coverage["ctp:crash"] + r.Coverage["txn:idle"] + r.Coverage["txn:sloppy-abort"] + r.Coverage["txn:zombie-write"]
	}
	// Seed 41: crashes, two of them leaving zombies; seed 31: crashes, an idle and
	// sloppy aborts; seed 168: consume-transform-produce workers crashing.
	for _, seed := range []uint64{41, 31, 168} {
		full := sim.Run(sim.Options{Seed: seed})
		if full.Failure != nil {
			t.Fatalf("seed %d: %v", seed, full.Failure)
		}
		var without, oneLess sim.Schedule
		crashes, dropped := 0, -1
		for i, st := range full.Schedule.Steps {
			if st.Kind == sim.StepTxnCrash {
				crashes++
				if dropped < 0 {
					dropped = i
					continue
				}
			}
			oneLess.Steps = append(oneLess.Steps, st)
			if !slices.Contains(fates, st.Kind) {
				without.Steps = append(without.Steps, st)
			}
		}
		if crashes < 2 || befell(full) == 0 {
			t.Fatalf("seed %d recorded %d crash steps (%d fates befell)", seed, crashes, befell(full))
		}

		r := sim.Run(sim.Options{Seed: seed, Schedule: &without})
		if r.Failure != nil {
			t.Fatalf("seed %d without its transactions' fates: %v", seed, r.Failure)
		}
		if n := befell(r); n != 0 || r.Coverage["txn:commit"]+r.Coverage["ctp:commit"] == 0 {
			t.Fatalf("seed %d without its transactions' fates: %d befell anyway, %d commits", seed, n, r.Coverage["txn:commit"]+r.Coverage["ctp:commit"])
		}

		opts := sim.Options{Seed: seed, Schedule: &oneLess}
		a, b := sim.Run(opts), sim.Run(opts)
		if a.Failure != nil {
			t.Fatalf("seed %d without the crash at %v: %v", seed, full.Schedule.Steps[dropped].At, a.Failure)
		}
		if a.Fingerprint != b.Fingerprint || a.Events != b.Events {
			t.Fatalf("seed %d without one crash: %016x (%d events), then %016x (%d events)", seed, a.Fingerprint, a.Events, b.Fingerprint, b.Events)
		}
		if a.Fingerprint == full.Fingerprint {
			t.Fatalf("seed %d: dropping the crash at %v changed nothing", seed, full.Schedule.Steps[dropped].At)
		}
		if got := a.Coverage["txn:crash"] + a.Coverage["ctp:crash"]; got > int64(crashes-1) {
			t.Fatalf("seed %d: %d crashes from %d crash steps", seed, got, crashes-1)
		}
	}
}

// A drain step with nothing to move (its broker joins late and holds no partition yet)
// finishes at once: when it waited for the mover's previous step, it runs once, asks
// once to unregister the broker, and the step queued behind it still runs. It used to
// free the mover, which started the same drain again, until the stack overflowed.
func TestScheduledDrainWithNothingToMove(t *testing.T) {
	requireNode(t)
	const seed = 71
	probe := sim.Run(sim.Options{Seed: seed, NoFaults: true, Adjust: func(c *sim.Config) { c.SafetyDuration = time.Second }})
	mover := 0
	for i, d := range probe.Clients {
		if strings.HasPrefix(d, "the mover") {
			mover = i + 1
		}
	}
	late, others := int32(0), []string{}
	for _, n := range probe.Config.Nodes {
		switch {
		case n.Broker && n.JoinAt > 5*time.Second:
			late = n.ID
		case n.Broker:
			others = append(others, strconv.Itoa(int(n.ID)))
		}
	}
	if mover == 0 || late == 0 || len(others) < 2 {
		t.Fatalf("seed %d no longer has a mover (%d) and a broker joining late (%d): %v", seed, mover, late, probe.Clients)
	}
	tp := probe.Config.Data.Topics[0].Name + "/0"
	c := "at 3s client " + strconv.Itoa(mover) + " "
	text := "seed " + strconv.Itoa(seed) + "\n" +
		c + "reassign " + tp + " replicas=" + strings.Join(others[:2], ",") + "\n" +
		c + "drain " + strconv.Itoa(int(late)) + "\n" +
		c + "reassign " + tp + " cancel\n"
	r := runScenarioText(t, text)
	for i, st := range r.StepsDone {
		if st.Skipped != "" {
			t.Errorf("step %d (%s) skipped: %s", i, st.Line, st.Skipped)
		}
	}
	drains := 0
	for _, st := range r.Schedule.Steps {
		if st.Kind == sim.StepDrain {
			drains++
		}
	}
	unregisters := 0
	for k, v := range r.Coverage {
		if strings.HasPrefix(k, "moves:unregister") {
			unregisters += int(v)
		}
	}
	if drains != 1 || unregisters != 1 {
		t.Fatalf("the drain ran %d times and unregistered %d times, want once each:\n%s", drains, unregisters, text)
	}
	t.Logf("%s%s", text, r.Summary())
}

// runScenarioText runs a scenario file's text and fails the test if it does not parse
// or its run fails.
func runScenarioText(t *testing.T, text string) sim.Result {
	t.Helper()
	sc, err := sim.ParseScenario(text)
	if err != nil {
		t.Fatal(err)
	}
	r := sim.Run(sc.Options(sim.Options{}))
	if r.Failure != nil {
		t.Fatalf("%v", r.Failure)
	}
	return r
}
