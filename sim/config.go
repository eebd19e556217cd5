package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/netsim"
)

// NodeSpec is one node of the simulated cluster.
type NodeSpec struct {
	ID     int32
	Voter  bool
	Broker bool
	// DriftPPM is the clock's rate error in parts per million; SkewNS its offset.
	DriftPPM int64
	SkewNS   int64
	// JoinAt, when not zero, is when the node first starts: a broker added to the
	// running cluster (moves.go).
	JoinAt time.Duration
}

// FaultConfig says which faults a run injects and how often.
type FaultConfig struct {
	// Interval is the mean virtual time between two fault actions.
	Interval time.Duration
	// Kinds switched on for this seed.
	Crash, Pause, Partition, Clog, LinkRates, DiskEIO, DiskENOSPC, ReadCorrupt, AtRestCorrupt, ClockJump bool
	// PartitionCorrupt damages synced partition data at rest (partcorrupt.go): bits
	// flipped in a batch of a closed segment, or a sector of one lost. With AllCopiesPPM
	// the same batch is damaged on every replica that holds it in a closed segment.
	PartitionCorrupt bool
	AllCopiesPPM     int64
	// CrashOnWrite crashes a node, with CrashOnWritePPM per op, while one of its small
	// state files is being written (WriteFile: the quorum state, a snapshot, a
	// checkpoint), and restarts it soon: the window where an output released before its
	// state is durable shows.
	CrashOnWrite    bool
	CrashOnWritePPM int64
	// PowerLoss crashes every node at once (a correlated power loss) and restarts them
	// together after a while: what is not synced anywhere is gone.
	PowerLoss bool
	// Shutdown sends a node a SIGTERM now and then: a controlled shutdown (shutdown.go)
	// that stops it once the controller moved its leaderships away, or after
	// ShutdownTimeout (controlled.shutdown.timeout.ms); it restarts after a downtime.
	Shutdown        bool
	ShutdownTimeout time.Duration
	// Storm marks a seed whose faults come every few election timeouts; in it a new
	// quorum leader crashes with ElectedCrashPPM right after its election.
	Storm           bool
	ElectedCrashPPM int64
	// TakeoverCrashPPM is the chance that a broker that just took over the leadership
	// of a data partition crashes right after: back-to-back failovers.
	TakeoverCrashPPM int64
	// Byzantine runs an attacker outside the cluster (attack.go) from the start of the
	// run to its end, the liveness phase included: every ~AttackInterval it sends forged
	// or malformed traffic to a client listener or a peer endpoint, and it follows a
	// leader's fetch answer carrying records with a forged fetch in the follower's name
	// with AimPPM.
	Byzantine      bool
	AttackInterval time.Duration
	AimPPM         int64
	// byzantineForced: Options.Byzantine switched it on (a trace then says so).
	byzantineForced bool
	// LivenessDown is how many brokers the liveness phase leaves down (crashed, never
	// restarted), always a minority of the brokers and of the voters: partitions with a
	// live ISR member must still get a leader, the others may stay offline.
	LivenessDown int
	// DowntimeMax bounds how long a crashed node stays down and a paused node stays
	// paused; PartitionMax how long a partition or clog lasts before it heals.
	DowntimeMax  time.Duration
	PartitionMax time.Duration
	// LeaseEdge cuts a broker off from the controller until just about the moment its
	// lease ends (wide.go).
	LeaseEdge bool
	// EdgePPM is the share of fault durations drawn close to a timeout (a lease, a
	// session, an election timeout) rather than at random (wide.go).
	EdgePPM int64
	// Link rates (parts per million) applied to every link while LinkRates is on.
	LossPPM, DupPPM, ReorderPPM, StreamBreakPPM int64
	// Disk rates (parts per million per operation) while DiskEIO, DiskENOSPC and
	// ReadCorrupt are on.
	WriteEIOPPM, SyncEIOPPM, ENOSPCPPM, ReadCorruptPPM int64
}

// kinds lists the fault kinds and whether each is on, in a fixed order.
func (f *FaultConfig) kinds() []struct {
	name string
	on   bool
} {
	return []struct {
		name string
		on   bool
	}{
		{"crash", f.Crash}, {"pause", f.Pause}, {"partition", f.Partition}, {"clog", f.Clog},
		{"link-rates", f.LinkRates}, {"disk-eio", f.DiskEIO}, {"disk-enospc", f.DiskENOSPC},
		{"read-corrupt", f.ReadCorrupt}, {"at-rest-corrupt", f.AtRestCorrupt}, {"partition-corrupt", f.PartitionCorrupt},
		{"clock-jump", f.ClockJump},
		{"crash-on-write", f.CrashOnWrite}, {"power-loss", f.PowerLoss}, {"controlled-shutdown", f.Shutdown},
		{"byzantine", f.Byzantine}, {"lease-edge", f.LeaseEdge},
	}
}

// Any reports whether any fault kind is on.
func (f *FaultConfig) Any() bool {
	for _, k := range f.kinds() {
		if k.on {
			return true
		}
	}
	return false
}

// WorkloadConfig says what the clients do.
type WorkloadConfig struct {
	Clients int
	// OpInterval is the mean think time of a client between two operations.
	OpInterval time.Duration
	// Topics is the pool of topic names operations pick from.
	Topics []string
	// Relative weights of the metadata operations.
	Create, Delete, CreatePartitions, Describe, ListBrokers int
	// PartitionsMax bounds the partition counts of creates and create-partitions.
	PartitionsMax int32
	// RFMax bounds the replication factor of creates; above the broker count it makes
	// some creates fail with INVALID_REPLICATION_FACTOR on purpose.
	RFMax int32
	// Versions is how clients pick an API version: "max", "min" or "random" within the
	// range both the broker and the client serve.
	Versions string
}

// Config is a run's configuration, drawn from its seed (swarm testing): each seed tests
// its own cluster shape, fault mix and workload.
type Config struct {
	Seed   uint64
	Plants plant.Set
	Nodes  []NodeSpec // sorted by ID
	// Separate is true when controllers and brokers are distinct nodes.
	Separate bool
	// TimingScale is the factor applied to Kafka's timeouts (core.KafkaTiming), in
	// percent; 0 when the seed runs seedlog's defaults (core.DefaultTiming).
	TimingScale int
	Timing      core.Timing
	Link        netsim.LinkConfig
	Faults      FaultConfig
	Workload    WorkloadConfig
	Data        DataConfig
	// Wide holds the wide draws: storage, sizes, swarm switches, timing edges (wide.go).
	Wide  WideConfig
	Shell ShellConfig
	// SafetyDuration is how long faults and the workload run.
	SafetyDuration time.Duration
	// LivenessBound is how long, once faults stop, the cluster has to converge.
	LivenessBound time.Duration
	// SnapshotRecords is how many committed metadata records pass between two metadata
	// snapshots (0: the node's default). Small values make lagging followers install
	// snapshots.
	SnapshotRecords int
	// SegmentBytes and IndexIntervalBytes configure the nodes' logs (log.segment.bytes,
	// log.index.interval.bytes; 0: the node's defaults). Small segments roll, so that
	// there are closed segments to recover, trust and damage.
	SegmentBytes       int64
	IndexIntervalBytes int
	// SegmentAge is log.roll.ms (0: never): a segment older than it rolls at the next
	// append.
	SegmentAge time.Duration
	// CleanerDedupeBytes is log.cleaner.dedupe.buffer.size (0: the node's default): a
	// small map makes cleaning passes map part of the dirty segments, or refuse.
	CleanerDedupeBytes int64
	// OpenFilesMax is log.open.files.max (0: no file cache, every segment file stays
	// open; openfiles.go).
	OpenFilesMax int
	// ReplicaCreatesMax bounds the partition logs a broker creates at once (0: the
	// node's default; replicasync.go).
	ReplicaCreatesMax int
	// LeaderBalance is the nodes' automatic leader rebalancing (leaders.go).
	LeaderBalance LeaderBalance
	// CleanerStepBytes is log.cleaner.io.buffer.size (0: a pass in one step) and
	// CleanerBytesPerSec log.cleaner.io.max.bytes.per.second (0: no limit).
	CleanerStepBytes   int32
	CleanerBytesPerSec int64
	// QuorumFetchBytesMax and QuorumSnapshotChunkBytes bound the controller quorum's
	// fetch answers and snapshot chunks (0: the node's defaults). Small values split
	// transfers into many rounds, where stale-epoch commits show.
	QuorumFetchBytesMax      int
	QuorumSnapshotChunkBytes int
	// durationSet is Options.Duration, when it set SafetyDuration.
	durationSet time.Duration
	// scripted describes the schedule a scripted run replays instead of drawing faults
	// and operations ("" for a seed's own run).
	scripted string
}

// ShellConfig is how the node shells batch their work, drawn per seed within what the
// real node may do: its loop takes every input already waiting, up to
// core.InputBatchMax, before one Drain, and its disk worker makes everything queued
// while a batch ran the next batch (diskexec). The zero value drains after every input
// and starts every batch at once with everything queued.
type ShellConfig struct {
	// InputBatchMax bounds the inputs a node takes before one Drain (at most
	// core.InputBatchMax); each round's bound is drawn in [1, InputBatchMax].
	InputBatchMax int
	// InputWindow: inputs that arrive within a drawn [0, InputWindow] of a round's first
	// join the round (0: those at the same virtual time).
	InputWindow time.Duration
	// DiskWake: a free disk starts its next batch a drawn [0, DiskWake] after an op is
	// queued, so that ops emitted meanwhile join it.
	DiskWake time.Duration
	// DiskCutPPM is the share of batches (parts per million) that take only a drawn
	// prefix of the ops queued, half of those a single op, instead of every op queued.
	DiskCutPPM int64
}

// drawShell draws a seed's ShellConfig from its own stream.
func drawShell(seed uint64) ShellConfig {
	rng := Stream(seed, streamShell, 0)
	s := ShellConfig{InputBatchMax: core.InputBatchMax}
	switch rng.IntN(4) {
	case 0:
		s.InputBatchMax = 1
	case 1:
		s.InputBatchMax = 2 + rng.IntN(7)
	}
	s.InputWindow = []time.Duration{0, 0, 20 * time.Microsecond, 200 * time.Microsecond}[rng.IntN(4)]
	s.DiskWake = []time.Duration{0, 50 * time.Microsecond, 500 * time.Microsecond}[rng.IntN(3)]
	s.DiskCutPPM = []int64{0, 250_000, 1_000_000}[rng.IntN(3)]
	return s
}

func (s *ShellConfig) drawInputCap(rng *rand.Rand) int {
	if s.InputBatchMax <= 1 {
		return 1
	}
	return 1 + rng.IntN(s.InputBatchMax)
}

func (s *ShellConfig) drawInputWindow(rng *rand.Rand) time.Duration {
	if s.InputWindow <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(s.InputWindow) + 1))
}

func (s *ShellConfig) drawDiskWake(rng *rand.Rand) time.Duration {
	if s.DiskWake <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(s.DiskWake) + 1))
}

// drawDiskBatch is how many of the queued ops the next batch takes (0: all of them).
func (s *ShellConfig) drawDiskBatch(rng *rand.Rand, queued int) int {
	if s.DiskCutPPM <= 0 || rng.Int64N(1_000_000) >= s.DiskCutPPM {
		return 0
	}
	if rng.IntN(2) == 0 {
		return 1
	}
	return 1 + rng.IntN(queued)
}

func (s ShellConfig) String() string {
	return fmt.Sprintf("shell: up to %d inputs per drain within %v; disk batches start within %v, %s of them cut short\n",
		s.InputBatchMax, s.InputWindow, s.DiskWake, ppm(s.DiskCutPPM))
}

// Voters returns the ids of the controller quorum's voters, sorted.
func (c Config) Voters() []int32 {
	var out []int32
	for _, n := range c.Nodes {
		if n.Voter {
			out = append(out, n.ID)
		}
	}
	return out
}

// Brokers returns the ids of the brokers, sorted.
func (c Config) Brokers() []int32 {
	var out []int32
	for _, n := range c.Nodes {
		if n.Broker {
			out = append(out, n.ID)
		}
	}
	return out
}

// Draw draws the configuration of a seed.
func Draw(seed uint64, plants plant.Set) Config {
	rng := Stream(seed, streamConfig, 0)
	c := Config{Seed: seed, Plants: plants}
	c.Nodes, c.Separate = drawCluster(rng)
	c.TimingScale = []int{25, 50, 100}[rng.IntN(3)]
	c.Timing = scaleTiming(core.KafkaTiming, c.TimingScale)
	if Stream(seed, streamTiming, 0).IntN(4) == 0 {
		// A seed in four runs seedlog's own defaults, exactly as a node does; the others
		// scale Kafka's, from a quarter of them (close to seedlog's) to all of them.
		c.TimingScale, c.Timing = 0, core.DefaultTiming
	}
	drawClocks(rng, c.Nodes, c.Timing.ClockDriftMax)
	c.Link = netsim.DefaultLink()
	c.Faults = drawFaults(rng, c.Timing)
	c.Workload = drawWorkload(rng, len(c.Brokers()))
	c.SafetyDuration = time.Duration(15+rng.IntN(31)) * time.Second
	if rng.IntN(2) == 0 {
		c.SnapshotRecords = 5 + rng.IntN(46)
	}
	c.LivenessBound = LivenessBound(c.Timing)
	drawExtra(seed, &c)
	if err := c.validate(); err != nil {
		// The draws stay within what the node accepts (core.Config.Validate included):
		// a seed must test the cluster, not a configuration no node would start with.
		panic(fmt.Sprintf("sim: seed %d drew an invalid configuration: %v", seed, err))
	}
	return c
}

// drawExtra draws what was added to the configuration after the first release of the
// simulator, from its own stream so that the earlier draws stay as they were.
func drawExtra(seed uint64, c *Config) {
	drawEvenQuorum(seed, c)
	c.Data = drawData(seed, len(c.Brokers()))
	c.Data.DeliveryTimeout = 4 * clientRequestTimeout(c.Timing)
	rng := Stream(seed, streamDataConfig, 1)
	if rng.IntN(2) == 0 {
		// Kafka's replica.lag.time.max.ms is far longer than a run; a shorter one makes
		// followers leave and rejoin the ISR within it.
		c.Timing.ReplicaLagMax = max(time.Duration(1000+rng.IntN(5000))*time.Millisecond, 4*c.Timing.ReplicaFetchMaxWait)
	}
	c.Faults.PowerLoss = c.Faults.Crash && rng.IntN(3) == 0
	if rng.IntN(2) == 0 {
		c.QuorumFetchBytesMax = 64 + rng.IntN(2000)
		c.QuorumSnapshotChunkBytes = 64 + rng.IntN(2000)
	}
	c.LivenessBound = LivenessBound(c.Timing)
	if c.Data.On() {
		c.LivenessBound += DataLivenessExtra(c.Timing)
	}
	later := Stream(seed, streamDataConfig, 2)
	if c.Faults.Crash && later.IntN(4) == 0 {
		// A storm now and then: faults every few election timeouts, as dense as the
		// quorum's own simulator draws them. Leader changes that interrupt each other
		// are where commit rules fail (Raft's figure 8).
		c.Faults.Storm = true
		c.Faults.Interval = time.Duration(1+later.IntN(4)) * c.Timing.ElectionTimeout
		c.Faults.ElectedCrashPPM = 100_000 + later.Int64N(500_000)
	}
	if minority := (len(c.Brokers()) - 1) / 2; c.Faults.Crash && minority > 0 && later.IntN(4) == 0 {
		c.Faults.LivenessDown = 1 + later.IntN(minority)
	}
	on := drawAttack(seed, &c.Faults)
	c.Faults.Byzantine = on && c.Faults.Any()
	c.Shell = drawShell(seed)
	drawShutdown(seed, c.Timing, &c.Faults)
	drawLogs(seed, c)
	drawWide(seed, c)
	if rng := Stream(seed, streamDataConfig, 6); c.Faults.Crash && c.Data.On() && rng.IntN(4) == 0 {
		c.Faults.TakeoverCrashPPM = 200_000 + rng.Int64N(500_000)
	}
	drawOffsetLifetimes(seed, &c.Data)
	drawCredentials(seed, &c.Data)
	drawQuotas(seed, &c.Data)
	drawLeaderBalance(seed, c)
	drawMoves(seed, c)
	drawSessions(seed, &c.Data)
	if c.Faults.LivenessDown == 0 {
		drawTxns(seed, &c.Data, len(c.Brokers()))
	}
	drawCTP(seed, c)
	if c.Data.CTP.Workers > 0 {
		// The workers drain after the producers went idle, within a bound of their own.
		c.LivenessBound += DataLivenessExtra(c.Timing)
	}
	drawBrokerCap(seed, c)
}

// drawSessions draws, from its own stream, whether a seed's readers fetch with fetch
// sessions (half the seeds with readers: one reader or all of them), how many partitions
// each reads at once, whether they name topics rather than ids (a quarter), and the
// brokers' session slots (a quarter: so few that sessions are refused for want of room).
func drawSessions(seed uint64, d *DataConfig) {
	rng := Stream(seed, streamSessions, 0)
	if d.Readers == 0 || rng.IntN(2) != 0 {
		return
	}
	d.SessionReaders = []int{1, d.Readers}[rng.IntN(2)]
	d.SessionPartitions = 2 + rng.IntN(4)
	d.SessionNames = rng.IntN(4) == 0
	if rng.IntN(4) == 0 {
		d.FetchSessionSlots = 1 + rng.IntN(2)
	}
}

// drawCredentials draws, from its own stream, whether a credentials client runs (a
// third of the seeds with data) and how long SASL sessions last (half of those).
func drawCredentials(seed uint64, d *DataConfig) {
	rng := Stream(seed, streamSASL, 0)
	if !d.On() || rng.IntN(3) != 0 {
		return
	}
	d.CredentialInterval = time.Duration(100+rng.IntN(900)) * time.Millisecond
	if rng.IntN(2) == 0 {
		d.ReauthMax = time.Duration(300+rng.IntN(4700)) * time.Millisecond
	}
	d.Authorizer = rng.IntN(2) == 0
}

// drawOffsetLifetimes draws, from its own stream, how long committed offsets live and
// whether an offsets administrator runs: half the seeds with data expire offsets within
// a run (a retention of half a second to ten seconds, checked two to ten times per
// retention), and half run the administrator, which commits a group without members,
// deletes offsets (of that group and of the consumer group, Empty or not) and reads
// them.
func drawOffsetLifetimes(seed uint64, d *DataConfig) {
	rng := Stream(seed, streamDataConfig, 8)
	if !d.On() {
		return
	}
	if rng.IntN(2) == 0 {
		d.OffsetsRetention = time.Duration(500+rng.IntN(9500)) * time.Millisecond
		d.OffsetsRetentionCheck = max(d.OffsetsRetention/time.Duration(2+rng.IntN(9)), 50*time.Millisecond)
	}
	if rng.IntN(2) == 0 {
		d.OffsetAdminInterval = time.Duration(200+rng.IntN(1800)) * time.Millisecond
	}
}

// drawEvenQuorum makes the controller quorum of a fifth of the clusters whose voters
// are brokers too an even number of voters, 2 or 4, from its own stream: a majority is
// then more than half, and a split in halves leaves no side able to elect.
func drawEvenQuorum(seed uint64, c *Config) {
	rng := Stream(seed, streamDataConfig, 7)
	size := len(c.Nodes)
	if c.Separate || size < 2 || rng.IntN(5) != 0 {
		return
	}
	voters := 2
	if size >= 4 && rng.IntN(2) == 0 {
		voters = 4
	}
	for i := range c.Nodes {
		c.Nodes[i].Voter = i < voters
	}
}

// drawLogs draws partition corruption, from the logs' own stream. How the logs lie in
// segments is drawn later (drawSegments), once the fault swarm has settled which kinds
// the seed runs: seeds that damage partition data need segments of a few batches.
func drawLogs(seed uint64, c *Config) {
	rng := Stream(seed, streamDataConfig, 4)
	c.Faults.PartitionCorrupt = c.Faults.Any() && c.Data.On() && rng.IntN(2) == 0
	c.Faults.AllCopiesPPM = []int64{0, 100_000, 300_000}[rng.IntN(3)]
}

// Shares of seeds, in percent, of the segment draws (drawSegments).
const (
	tinySegmentsPercent   = 6  // 16 KiB segments rolled every few milliseconds
	smallSegmentsPercent  = 30 // segments of 1 to 16 KiB
	mediumSegmentsPercent = 25 // segments of 16 KiB to 1 MiB
	segmentAgePercent     = 25 // of the small and medium ones, rolled by age too
)

// drawSegments draws how the nodes' logs lie in segments (log.segment.bytes,
// log.index.interval.bytes, log.roll.ms), the one place they are drawn, from their own
// stream. Most seeds keep Kafka's 1 GiB segments; the others roll them, so that rolls,
// retention of whole segments, truncations across segments and recovery of closed
// segments run under faults. Every seed that damages partition data takes segments of
// a few batches: a partition holds a few kilobytes in a run, and the damage goes to
// closed segments.
func drawSegments(seed uint64, c *Config) {
	rng := Stream(seed, streamDataConfig, 5)
	bytes := int64(1+rng.IntN(16)) << 10
	interval := 64 << rng.IntN(5)
	age := time.Duration(500+rng.IntN(9500)) * time.Millisecond
	aged := rng.IntN(100) < segmentAgePercent || c.Faults.Any()
	switch r := rng.IntN(100); {
	case c.Faults.PartitionCorrupt:
		c.SegmentBytes, c.IndexIntervalBytes = bytes/4, interval/2
	case r < tinySegmentsPercent:
		// About a batch per segment, and a roll every few milliseconds: every
		// truncation and deletion crosses segments.
		c.SegmentBytes, c.IndexIntervalBytes = 16<<10, interval
		c.SegmentAge = time.Duration(5+rng.IntN(95)) * time.Millisecond
	case r < tinySegmentsPercent+smallSegmentsPercent:
		c.SegmentBytes, c.IndexIntervalBytes = bytes, interval
	case r < tinySegmentsPercent+smallSegmentsPercent+mediumSegmentsPercent:
		// Log-uniform from 16 KiB to 1 MiB.
		c.SegmentBytes, c.IndexIntervalBytes = int64(float64(16<<10)*math.Exp2(rng.Float64()*6)), interval
		if aged {
			c.SegmentAge = age
		}
	}
}

// drawShutdown draws the controlled shutdowns of a seed, from its own stream: a third of
// the seeds with faults have them, and their timeout ranges from a couple of heartbeats
// (shutdowns that time out with leaderships still there) to two session timeouts.
func drawShutdown(seed uint64, t core.Timing, f *FaultConfig) {
	rng := Stream(seed, streamDataConfig, 3)
	on := rng.IntN(3) == 0
	f.ShutdownTimeout = 2*t.HeartbeatInterval + time.Duration(rng.Int64N(int64(2*t.SessionTimeout)))
	f.Shutdown = on && f.Any()
}

// drawAttack draws the byzantine client's rates into f and whether the seed has one
// (a quarter of the seeds with faults).
func drawAttack(seed uint64, f *FaultConfig) bool {
	rng := Stream(seed, streamAttack, 0)
	on := rng.IntN(4) == 0
	f.AttackInterval = time.Duration(20+rng.IntN(480)) * time.Millisecond
	f.AimPPM = 50_000 + rng.Int64N(950_000)
	return on
}

// DataLivenessExtra is the time a healed cluster has, beyond the metadata bound, to
// elect a leader for every partition and get a produce and a fetch through: brokers
// re-register and are unfenced, leaders get a lease, followers catch up and rejoin the
// ISR, and requests sent before the cluster settled time out.
func DataLivenessExtra(t core.Timing) time.Duration {
	return 2*t.SessionTimeout + t.LeaseDuration + 2*t.RequestTimeout
}

// LivenessBound is the virtual time a healed cluster has to converge: a quorum leader
// within ten election timeouts, then metadata operations succeeding, which may need the
// brokers to register again and the controller to see a heartbeat (one session timeout
// and one heartbeat), and requests forwarded before the cluster settled to give up (one
// request timeout). (The quorum's own bound, a leader within ten election timeouts, is
// checked separately.)
func LivenessBound(t core.Timing) time.Duration {
	return 10*t.ElectionTimeout + t.SessionTimeout + t.HeartbeatInterval + t.RequestTimeout
}

// drawCluster picks 1 to 5 nodes and their roles: every node a broker with the first
// 1, 3 or 5 also voting, or (from 2 nodes) separate controllers and brokers.
func drawCluster(rng *rand.Rand) ([]NodeSpec, bool) {
	size := 1 + rng.IntN(5)
	separate := size >= 2 && rng.IntN(10) < 3
	var voters int
	if separate {
		voters = 1
		if size >= 4 && rng.IntN(2) == 0 {
			voters = 3
		}
	} else {
		choices := []int{1}
		if size >= 3 {
			choices = append(choices, 3, 3)
		}
		if size >= 5 {
			choices = append(choices, 5)
		}
		voters = choices[rng.IntN(len(choices))]
	}
	nodes := make([]NodeSpec, size)
	for i := range nodes {
		nodes[i] = NodeSpec{ID: int32(i + 1), Voter: i < voters, Broker: !separate || i >= voters}
	}
	return nodes, separate
}

func drawClocks(rng *rand.Rand, nodes []NodeSpec, driftMax float64) {
	// Each clock uses at most half of the drift budget, leaving the rest to jumps.
	limit := int64(driftMax * ppmScale / 2)
	for i := range nodes {
		nodes[i].DriftPPM = rng.Int64N(2*limit+1) - limit
		nodes[i].SkewNS = rng.Int64N(int64(2*time.Second)) - int64(time.Second)
	}
}

// ScaleTiming returns Kafka's timeouts (core.KafkaTiming) scaled to percent; 0 is
// seedlog's defaults (core.DefaultTiming).
func ScaleTiming(percent int) core.Timing {
	if percent == 0 {
		return core.DefaultTiming
	}
	return scaleTiming(core.KafkaTiming, percent)
}

func scaleTiming(t core.Timing, percent int) core.Timing {
	s := func(d time.Duration) time.Duration { return d * time.Duration(percent) / 100 }
	t.ElectionTimeout = s(t.ElectionTimeout)
	t.QuorumFetchMaxWait = s(t.QuorumFetchMaxWait)
	t.QuorumFetchTimeout = s(t.QuorumFetchTimeout)
	t.HeartbeatInterval = s(t.HeartbeatInterval)
	t.SessionTimeout = s(t.SessionTimeout)
	t.LeaseDuration = s(t.LeaseDuration)
	t.ReplicaLagMax = s(t.ReplicaLagMax)
	t.ReplicaFetchMaxWait = s(t.ReplicaFetchMaxWait)
	t.ReplicaFetchIdleMaxWait = s(t.ReplicaFetchIdleMaxWait)
	t.RequestTimeout = s(t.RequestTimeout)
	return t
}

func drawFaults(rng *rand.Rand, t core.Timing) FaultConfig {
	f := FaultConfig{
		Interval:     time.Duration(300+rng.IntN(2700)) * time.Millisecond,
		DowntimeMax:  max(2*t.ElectionTimeout, time.Duration(1+rng.IntN(4))*t.SessionTimeout/2),
		PartitionMax: max(2*t.ElectionTimeout, time.Duration(1+rng.IntN(4))*t.SessionTimeout/2),
	}
	if rng.IntN(10) == 0 {
		return f // a fault-free seed now and then, as a baseline
	}
	on := func(p int) bool { return rng.IntN(100) < p }
	f.Crash = on(50)
	f.Pause = on(35)
	f.Partition = on(50)
	f.Clog = on(30)
	f.LinkRates = on(35)
	f.DiskEIO = on(25)
	f.DiskENOSPC = on(15)
	f.ReadCorrupt = on(15)
	f.AtRestCorrupt = on(15)
	f.ClockJump = on(25)
	f.CrashOnWrite = on(35)
	f.CrashOnWritePPM = 10_000 + rng.Int64N(290_000)
	f.LossPPM = rng.Int64N(50_000)
	f.DupPPM = rng.Int64N(20_000)
	f.ReorderPPM = rng.Int64N(100_000)
	f.StreamBreakPPM = rng.Int64N(5_000)
	f.WriteEIOPPM = rng.Int64N(2_000)
	f.SyncEIOPPM = rng.Int64N(5_000)
	f.ENOSPCPPM = rng.Int64N(2_000)
	f.ReadCorruptPPM = rng.Int64N(2_000)
	return f
}

func drawWorkload(rng *rand.Rand, brokers int) WorkloadConfig {
	w := WorkloadConfig{
		Clients:       1 + rng.IntN(4),
		OpInterval:    time.Duration(30+rng.IntN(470)) * time.Millisecond,
		PartitionsMax: int32(1 + rng.IntN(6)),
		RFMax:         int32(min(brokers, 3)),
		Versions:      []string{"max", "min", "random"}[rng.IntN(3)],
	}
	if rng.IntN(5) == 0 {
		w.RFMax++ // some creates ask for more replicas than there are brokers
	}
	for i := range 2 + rng.IntN(5) {
		w.Topics = append(w.Topics, fmt.Sprintf("t%d", i))
	}
	w.Create = 10 + rng.IntN(30)
	w.Delete = rng.IntN(20)
	w.CreatePartitions = rng.IntN(20)
	w.Describe = 10 + rng.IntN(30)
	w.ListBrokers = rng.IntN(15)
	return w
}

// String renders the configuration as the block a run prints before anything else.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d\n", c.Seed)
	shape := "combined voter+broker"
	if c.Separate {
		shape = "separate controllers and brokers"
	}
	fmt.Fprintf(&b, "cluster: %d nodes, %s, voters %v, brokers %v\n", len(c.Nodes), shape, c.Voters(), c.Brokers())
	for _, n := range c.Nodes {
		if n.JoinAt > 0 {
			fmt.Fprintf(&b, "node %d joins the cluster at %v\n", n.ID, n.JoinAt)
		}
	}
	t := &c.Timing
	scale := "seedlog's defaults"
	if c.TimingScale > 0 {
		scale = fmt.Sprintf("%d%% of Kafka's", c.TimingScale)
	}
	fmt.Fprintf(&b, "timing: %s: election %v, quorum fetch timeout %v, heartbeat %v, session %v, lease %v, request %v, drift max %g%%\n",
		scale, t.ElectionTimeout, t.QuorumFetchTimeout, t.HeartbeatInterval, t.SessionTimeout, t.LeaseDuration, t.RequestTimeout, t.ClockDriftMax*100)
	b.WriteString("clocks:")
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, " n%d drift %+dppm skew %v;", n.ID, n.DriftPPM, time.Duration(n.SkewNS).Round(time.Millisecond))
	}
	b.WriteString("\n")
	l := &c.Link
	fmt.Fprintf(&b, "network: delay %v + [0,%v), tail %.1f%% %v..%v\n", l.DelayBase, l.DelayJitter, l.TailProb*100, l.TailMin, l.TailMax)
	f := &c.Faults
	var on, off []string
	for _, k := range f.kinds() {
		if k.on {
			on = append(on, k.name)
		} else {
			off = append(off, k.name)
		}
	}
	if len(on) == 0 {
		b.WriteString("faults: none\n")
	} else {
		offs := "all on"
		if len(off) > 0 {
			offs = "off: " + strings.Join(off, " ")
		}
		fmt.Fprintf(&b, "faults: every ~%v: %s (%s)\n", f.Interval, strings.Join(on, " "), offs)
		if f.PartitionCorrupt {
			fmt.Fprintf(&b, "  partition corruption: a batch of a closed segment, on every replica in %s of the faults\n", ppm(f.AllCopiesPPM))
		}
		fmt.Fprintf(&b, "  downtime <= %v, partitions <= %v; link loss %s dup %s reorder %s stream-break %s; disk write-eio %s sync-eio %s enospc %s read-corrupt %s\n",
			f.DowntimeMax, f.PartitionMax, ppm(f.LossPPM), ppm(f.DupPPM), ppm(f.ReorderPPM), ppm(f.StreamBreakPPM),
			ppm(f.WriteEIOPPM), ppm(f.SyncEIOPPM), ppm(f.ENOSPCPPM), ppm(f.ReadCorruptPPM))
		if f.CrashOnWrite {
			fmt.Fprintf(&b, "  crash while writing state files: %s of writes\n", ppm(f.CrashOnWritePPM))
		}
		if f.TakeoverCrashPPM > 0 {
			fmt.Fprintf(&b, "  back-to-back failovers: a new data partition leader crashes right after taking over in %s of takeovers\n", ppm(f.TakeoverCrashPPM))
		}
		if f.Storm {
			fmt.Fprintf(&b, "  storm: a new quorum leader crashes right after its election in %s of elections\n", ppm(f.ElectedCrashPPM))
		}
		if f.LivenessDown > 0 {
			fmt.Fprintf(&b, "  the liveness phase leaves up to %d broker(s) down\n", f.LivenessDown)
		}
		if f.Shutdown {
			fmt.Fprintf(&b, "  controlled shutdowns time out after %v\n", f.ShutdownTimeout)
		}
		if f.Byzantine {
			fmt.Fprintf(&b, "  byzantine client: an attack every ~%v until the run ends; forged fetches after %s of leaders' answers\n", f.AttackInterval, ppm(f.AimPPM))
		}
	}
	w := &c.Workload
	fmt.Fprintf(&b, "workload: %d clients, an op every ~%v each, topics %v, mix create %d delete %d create-partitions %d describe %d list-brokers %d, partitions <= %d, rf <= %d, versions %s\n",
		w.Clients, w.OpInterval, w.Topics, w.Create, w.Delete, w.CreatePartitions, w.Describe, w.ListBrokers, w.PartitionsMax, w.RFMax, w.Versions)
	snapshots := "node default"
	if c.SnapshotRecords > 0 {
		snapshots = fmt.Sprintf("every %d records", c.SnapshotRecords)
	}
	fmt.Fprintf(&b, "metadata snapshots: %s", snapshots)
	if c.QuorumFetchBytesMax > 0 {
		fmt.Fprintf(&b, "; quorum fetches <= %d bytes, snapshot chunks <= %d bytes", c.QuorumFetchBytesMax, c.QuorumSnapshotChunkBytes)
	}
	fmt.Fprintf(&b, "; replica lag max %v", c.Timing.ReplicaLagMax)
	if c.SegmentBytes > 0 {
		fmt.Fprintf(&b, "; log segments of %d bytes, an index entry every %d bytes", c.SegmentBytes, c.IndexIntervalBytes)
	}
	if c.SegmentAge > 0 {
		fmt.Fprintf(&b, ", rolled after %v", c.SegmentAge)
	}
	b.WriteString(c.openFilesString())
	b.WriteString(c.replicaCreatesString())
	b.WriteString("\n")
	b.WriteString(c.Data.String())
	b.WriteString(c.LeaderBalance.String())
	b.WriteString(c.Shell.String())
	b.WriteString(c.wideString())
	fmt.Fprintf(&b, "phases: safety %v, liveness bound %v\n", c.SafetyDuration, c.LivenessBound)
	if c.scripted != "" {
		fmt.Fprintf(&b, "schedule: %s\n", c.scripted)
	}
	plants := c.Plants.String()
	if plants == "" {
		plants = "none"
	}
	fmt.Fprintf(&b, "plants: %s\n", plants)
	return b.String()
}

func ppm(v int64) string { return fmt.Sprintf("%.2f%%", float64(v)/10_000) }

// validate checks what the simulator relies on.
func (c *Config) validate() error {
	if len(c.Nodes) == 0 {
		return fmt.Errorf("sim: config has no nodes")
	}
	if !slices.IsSortedFunc(c.Nodes, func(a, b NodeSpec) int { return int(a.ID - b.ID) }) {
		return fmt.Errorf("sim: nodes are not sorted by id")
	}
	if len(c.Voters()) == 0 {
		return fmt.Errorf("sim: no voters")
	}
	if len(c.Brokers()) == 0 {
		return fmt.Errorf("sim: no brokers")
	}
	if s := c.Shell; s.InputBatchMax > core.InputBatchMax || s.InputWindow < 0 || s.DiskWake < 0 || s.DiskCutPPM < 0 {
		return fmt.Errorf("sim: shell %+v outside what the real node does (at most %d inputs per drain)", s, core.InputBatchMax)
	}
	if c.Workload.Clients < 0 || len(c.Workload.Topics) == 0 {
		return fmt.Errorf("sim: workload needs topics")
	}
	for _, n := range c.Nodes {
		if n.ID < 1 || n.ID >= clientAddrBase {
			return fmt.Errorf("sim: node id %d outside [1, %d)", n.ID, clientAddrBase)
		}
		// The core's own check, as the real node makes it at start: a configuration
		// it refuses would only make the node panic or stop.
		if err := c.coreConfig(n, 0).Validate(); err != nil {
			return fmt.Errorf("sim: node %d: %w", n.ID, err)
		}
	}
	return nil
}
