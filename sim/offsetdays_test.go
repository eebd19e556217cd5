package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/storage"
)

const day = 24 * time.Hour

// The days world: three brokers, one data topic t, and one consumer group "live" whose
// single member joins at liveJoinsAt and then only heartbeats, for days. The offsets
// topic has one partition on all three brokers; offsets.retention.minutes and
// offsets.retention.check.interval.ms keep Kafka's defaults (7 days, 10 minutes). The
// cluster's timeouts are twice Kafka's defaults (broker heartbeats every 4 s, fetches
// held up to 1 s) and t, which only names the partition groups commit for and holds no
// records, has a single replica: most of a simulated day goes to the brokers' own
// traffic, and these keep eight days within a test's time.
const liveJoinsAt = 2 * time.Minute

func daysWorld(c *sim.Config) {
	c.Nodes = []sim.NodeSpec{{ID: 1, Voter: true, Broker: true}, {ID: 2, Voter: true, Broker: true}, {ID: 3, Voter: true, Broker: true}}
	c.Separate = false
	c.TimingScale, c.Timing = 200, sim.ScaleTiming(200)
	c.Faults = sim.FaultConfig{Interval: time.Second}
	c.Workload.Clients = 0
	c.Data = sim.DataConfig{
		Topics: []sim.DataTopic{{Name: "t", Partitions: 1, RF: 1, MinISR: 1}},
		Groups: []sim.GroupSpec{{Name: "live", Members: 1, Assignor: "range", Topics: []string{"t"}, StartDelay: liveJoinsAt,
			Idle: true, SessionTimeout: time.Minute, HeartbeatInterval: 20 * time.Second}},
		OpInterval:        time.Second,
		FetchWaitMax:      500 * time.Millisecond,
		OffsetsPartitions: 1,
		OffsetsRF:         3,
		DeliveryTimeout:   time.Minute,
	}
	// An eager cleaner (log.cleaner.backoff.ms); the offsets topic's own segments and
	// dirty ratio are set through the Kafka API once it exists.
	c.Wide = sim.WideConfig{CleanerBackoff: 30 * time.Second}
	c.SegmentBytes, c.IndexIntervalBytes, c.SegmentAge, c.CleanerDedupeBytes = 0, 0, 0, 0
	c.QuorumFetchBytesMax, c.QuorumSnapshotChunkBytes, c.SnapshotRecords = 0, 0, 0
	c.SafetyDuration = 10 * day
	c.LivenessBound = sim.LivenessBound(c.Timing)
}

// Committed offsets outlive eight virtual days in which other groups commit every two
// minutes into an offsets topic of 4 KiB segments, rolled every ten minutes and cleaned
// as soon as a hundredth of it is dirty, so that every segment of the first day is
// cleaned (with retention.ms's default, it would have been deleted); every broker
// crashes and restarts three times, the last near the end, and every offset is read
// back after each. A group that never had members keeps its offset until seven days
// after its commit and loses it within the next retention check; a group whose member
// stays keeps its offset for good (KIP-211). The world's checkers judge every step, and
// when it finishes, every commit and read.
func TestIdleGroupOffsetOverEightDays(t *testing.T) {
	if testing.Short() {
		t.Skip("eight virtual days take about half a minute")
	}
	requireNode(t)
	eightDays(t, sim.Options{Seed: 1, NoFaults: true, Adjust: daysWorld})
}

// eightDays runs the days of TestIdleGroupOffsetOverEightDays in a world of opts.
func eightDays(t *testing.T, opts sim.Options) {
	w, err := sim.NewWorld(opts)
	if err != nil {
		t.Fatal(err)
	}
	tp := sim.TopicPartition{Topic: "t", Partition: 0}
	offsetsTP := sim.TopicPartition{Topic: core.OffsetsTopic, Partition: 0}
	busy := []string{"busy-0", "busy-1", "busy-2", "busy-3"}
	const (
		liveOffset, idleOffset = 7, 42
		busyEvery              = 2 * time.Minute
		retentionCheck         = 10 * time.Minute // offsets.retention.check.interval.ms
	)
	commit := func(g string, offset int64) *sim.Op {
		t.Helper()
		op, f := w.CommitOffset(g, tp, offset, 2*time.Minute)
		if f != nil {
			t.Fatalf("%v", f)
		}
		if op == nil || op.Outcome != sim.OK {
			t.Fatalf("at %v: the commit of %d for group %s failed: %+v", w.Now(), offset, g, op)
		}
		return op
	}
	read := func(g string) (int64, *sim.Op) {
		t.Helper()
		op, f := w.FetchOffsets(g, []sim.TopicPartition{tp}, 2*time.Minute)
		if f != nil {
			t.Fatalf("%v", f)
		}
		got, ok := op.OffsetOf(tp)
		if !ok {
			t.Fatalf("at %v: group %s's offset could not be read: %+v", w.Now(), g, op)
		}
		return got, op
	}
	run := func(d time.Duration) {
		t.Helper()
		if f := w.RunFor(d); f != nil {
			t.Fatalf("%v", f)
		}
	}

	idle := commit("idle", idleOffset)
	commit("live", liveOffset)
	if w.Now() >= liveJoinsAt {
		t.Fatalf("the first commits took until %v, after the live group's member joined", w.Now())
	}
	if ok, f := w.AlterTopicConfigs(core.OffsetsTopic, map[string]string{
		"segment.bytes": "4096", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.01",
	}, time.Minute); f != nil || !ok {
		t.Fatalf("the offsets topic's configs were not altered: %v", f)
	}

	// want is what every group's offset must read; busyNext the next busy commit.
	want := map[string]int64{"idle": idleOffset, "live": liveOffset}
	for _, g := range busy {
		want[g] = -1
	}
	var busyNext int64
	readBack := func(when string) {
		t.Helper()
		for _, g := range append([]string{"idle", "live"}, busy...) {
			if got, op := read(g); got != want[g] {
				t.Fatalf("%s (%v): group %s's offset reads %d (op %d), want %d", when, w.Now(), g, got, op.ID, want[g])
			}
		}
	}
	// commitUntil has the busy groups commit in turn, one every busyEvery, until at.
	commitUntil := func(at time.Duration) {
		t.Helper()
		for w.Now() < at {
			g := busy[busyNext%int64(len(busy))]
			commit(g, busyNext)
			want[g] = busyNext
			busyNext++
			next := (w.Now()/busyEvery + 1) * busyEvery
			run(min(next, at) - w.Now())
		}
	}
	// restartAll crashes every broker at once and restarts them half a minute later.
	restartAll := func(when string) {
		t.Helper()
		for _, id := range w.Config().Brokers() {
			if err := w.Crash(id); err != nil {
				t.Fatal(err)
			}
		}
		run(30 * time.Second)
		for _, id := range w.Config().Brokers() {
			if err := w.Restart(id); err != nil {
				t.Fatal(err)
			}
		}
		readBack("after " + when)
	}
	// rollingRestart crashes and restarts one broker after the other.
	rollingRestart := func(when string) {
		t.Helper()
		for _, id := range w.Config().Brokers() {
			if err := w.Crash(id); err != nil {
				t.Fatal(err)
			}
			run(20 * time.Second)
			if err := w.Restart(id); err != nil {
				t.Fatal(err)
			}
			run(time.Minute)
			readBack(fmt.Sprintf("%s, broker %d", when, id))
		}
	}
	commitUntil(day)
	// dayOneEnd is where the offsets topic's log ended after the first day.
	dayOneEnd := int64(-1)
	for _, r := range w.View().Replicas(1) {
		if r.Topic == offsetsTP.Topic && r.Partition == offsetsTP.Partition {
			dayOneEnd = r.LEO
		}
	}
	if dayOneEnd < 0 {
		t.Fatalf("broker 1 holds no replica of %s", offsetsTP)
	}
	commitUntil(2*day + 3*time.Hour)
	restartAll("a crash of every broker on day 3")
	commitUntil(5 * day)
	rollingRestart("a rolling restart on day 6")

	// The idle group's offset lives up to seven days after its commit, and goes at the
	// first retention check after that.
	expiry := time.Duration(idle.Call) + 7*day
	commitUntil(expiry - time.Minute)
	if got, op := read("idle"); got != idleOffset || time.Duration(op.Return) >= expiry {
		t.Fatalf("a minute before its retention ended, group idle's offset reads %d (op %d answered at %v), want %d before %v",
			got, op.ID, time.Duration(op.Return), idleOffset, expiry)
	}
	commitUntil(time.Duration(idle.Return) + 7*day + retentionCheck + time.Minute)
	want["idle"] = -1
	readBack("a retention check after the idle group's offset expired")

	commitUntil(8*day - 2*time.Hour)
	restartAll("a crash of every broker at the end of day 8")
	commitUntil(8 * day)
	readBack("eight days")

	for _, id := range w.Config().Brokers() {
		checkCleaned(t, id, w.View().Notes(id)["replica-cleaned"], w.View().Segments(id, offsetsTP), dayOneEnd)
	}
	res := w.Finish()
	if res.Failure != nil {
		t.Fatalf("the history checkers failed: %v", res.Failure)
	}
	// Only the idle group's offset expired, and the live group's member joined once:
	// it was in the group throughout, across every restart.
	for _, name := range []string{"offsets:expiry-decided", "offsets:expiry-durable", "group:generations-joined"} {
		if n := res.Coverage[name]; n != 1 {
			t.Errorf("coverage %s is %d, want 1", name, n)
		}
	}
	t.Logf("%d busy commits, %d offsets topic segments rolled, %d merged by cleaning",
		busyNext, res.Coverage["storage:segment-roll:offsets"], res.Coverage["storage:clean-merged-segments:offsets"])
}

// checkCleaned checks a broker's offsets topic after the days: the cleaner ran often,
// and rewrote every segment that holds the first day's offsets, below dayOneEnd. Every
// commit is a batch of its own, so a segment never cleaned holds at least a batch
// header per offset; the cleaner leaves the latest commit of each key and one empty
// batch over the offsets it removed. The first segment, which holds the live group's
// commit, starts with a batch more than retention.ms's default (7 days) older than the
// log's newest: under cleanup.policy=delete the records of day one would have been
// deleted, and the offset with them.
func checkCleaned(t *testing.T, id int32, passes int64, segs []storage.SegmentInfo, dayOneEnd int64) {
	t.Helper()
	if passes < 100 {
		t.Errorf("broker %d ran %d cleaning passes of the offsets topic, want 100 or more", id, passes)
	}
	if len(segs) < 2 {
		t.Fatalf("broker %d holds %d segments of the offsets topic", id, len(segs))
	}
	var size int64
	for _, s := range segs {
		size += s.SizeBytes
	}
	t.Logf("broker %d: the offsets topic holds %d segments, %d bytes, after %d cleaning passes", id, len(segs), size, passes)
	if age := time.Duration(segs[len(segs)-1].MaxTimestamp-segs[0].RollTimestamp) * time.Millisecond; age <= 7*day {
		t.Errorf("broker %d: the offsets topic's first batch is %v older than its newest, want more than 7 days", id, age)
	}
	for _, s := range segs {
		if s.BaseOffset >= dayOneEnd {
			break
		}
		if s.SizeBytes >= (s.NextOffset-s.BaseOffset)*record.HeaderSize {
			t.Errorf("broker %d: segment [%d, %d) of the offsets topic holds %d bytes: the cleaner never rewrote it", id, s.BaseOffset, s.NextOffset, s.SizeBytes)
		}
	}
}
