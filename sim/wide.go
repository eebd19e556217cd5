package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/controller"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The wide draws: what a seed reaches beyond the first simulator's swarm, drawn from
// their own stream ("wide") after everything else, so that they change no earlier draw.
//
//   - Storage: many seeds roll their segments early (drawSegments, after the fault
//     swarm here: seeds that damage partition data need small segments), so that
//     rolls, retention across segments and truncation across segments run under
//     faults. Topics get retention.ms and retention.bytes small enough to delete
//     segments within a run, checked every few hundred milliseconds
//     (log.retention.check.interval.ms), and readers issue DeleteRecords now and then.
//   - Size: a tail of seeds goes wide, with 20 to 50 data partitions over 3 to 6
//     topics and the offsets topic at Kafka's 50 partitions; producers draw bigger
//     batches and records (4 KiB and more, up to the brokers' message.max.bytes, which
//     some seeds lower so that batches above it are refused).
//   - Swarm: whole fault kinds and whole kinds of client work are switched on or off
//     per seed (none, a single one, all, or about half), not only their rates.
//   - Timing: some seeds put their timeouts close to the limits the node accepts: a
//     lease as long as the lease inequality allows, heartbeats close to the lease,
//     election timeouts close to the quorum fetch timeout, clocks drifting at the edge
//     of their budget; fault durations close to those timeouts; and brokers cut off
//     from the controller until just about the moment their lease ends.
//
// WideConfig holds the draws that are not a field of another part of Config.
type WideConfig struct {
	// RetentionCheck is log.retention.check.interval.ms (0: the node's default).
	RetentionCheck time.Duration
	// CleanerBackoff is log.cleaner.backoff.ms (0: the node's default, 15 s).
	CleanerBackoff time.Duration
	// MessageBytesMax is the brokers' message.max.bytes (0: Kafka's default).
	MessageBytesMax int32
	// FaultSwarm and WorkloadSwarm say how the seed switched whole kinds on and off:
	// "drawn" (each on by its own chance), "none", "single", "all" or "half" (faults);
	// "drawn", "all", "drop" (about half switched off) or "solo" (producers and one
	// other kind) for the workload.
	FaultSwarm, WorkloadSwarm string
	// Timing lists what the seed moved close to a limit ("" for none).
	Timing []string
	// Wide marks a seed of the wide tail (many partitions and topics).
	Wide bool
}

// streamWide is the stream of the wide draws.
const streamWide = "wide"

// Shares of seeds, in percent, of the wide draws.
const (
	widePercent          = 8  // the wide tail: 20 to 50 data partitions
	tightTimingPercent   = 25 // timings close to their limits
	lowMessageMaxPercent = 15 // message.max.bytes lowered
)

// drawWide draws the wide part of a seed's configuration.
func drawWide(seed uint64, c *Config) {
	rng := Stream(seed, streamWide, 0)
	wc := &c.Wide
	drawFaultSwarm(rng, c)
	drawSegments(seed, c)
	drawOpenFiles(seed, c)
	drawReplicaCreates(seed, c)
	if rng.IntN(100) < lowMessageMaxPercent {
		wc.MessageBytesMax = int32(16<<10 + rng.IntN(240<<10))
	}
	if c.Data.On() {
		if rng.IntN(100) < widePercent {
			drawWideData(rng, c)
		}
		drawRecordSizes(rng, c)
		drawRetention(rng, c)
		drawWorkloadSwarm(rng, c)
		for i := range c.Data.Groups {
			if rng.IntN(10) < 7 {
				c.Data.Groups[i].StartDelay = time.Duration(2000+rng.IntN(6000)) * time.Millisecond
			}
		}
		drawTimestampTypes(rng, c)
		drawCompaction(seed, c)
		drawCleanerIO(seed, c)
		drawTopicSegments(seed, c)
		drawCompressionTypes(seed, c)
		drawTimestampBounds(seed, c)
	}
	if f := &c.Faults; f.DiskEIO && rng.IntN(100) < 40 {
		// Failed syncs often enough that nodes recover from them.
		f.SyncEIOPPM = 10_000 + rng.Int64N(40_000)
	}
	drawEdges(rng, c)
	c.LivenessBound = LivenessBound(c.Timing)
	if c.Data.On() {
		perPartition := dataProbePerPartition + c.Data.FetchWaitMax
		c.LivenessBound += DataLivenessExtra(c.Timing) + time.Duration(c.Data.partitions())*perPartition
	}
}

// dataProbePerPartition is the time the liveness probe and the final reads may take
// per data partition, beyond the bound: they go through partitions one by one. A group
// member also polls its partitions one at a time, and a fetch of an idle one waits up
// to FetchWaitMax, so a probe record written just after the member passed its
// partition waits a whole pass: the bound gets that much more per partition.
const dataProbePerPartition = 100 * time.Millisecond

// partitions counts the data partitions at creation.
func (d *DataConfig) partitions() int {
	n := 0
	for _, t := range d.Topics {
		n += int(t.Partitions)
	}
	return n
}

// drawWideData widens the data topics: 20 to 50 partitions over 3 to 6 topics, the
// offsets topic at Kafka's 50 partitions.
func drawWideData(rng *rand.Rand, c *Config) {
	d := &c.Data
	c.Wide.Wide = true
	topics := 3 + rng.IntN(4)
	total := 20 + rng.IntN(31)
	brokers := len(c.Brokers())
	d.Topics = d.Topics[:0]
	for i := range topics {
		parts := total / topics
		if i < total%topics {
			parts++
		}
		rf := int32(1 + rng.IntN(min(brokers, 3)))
		minISR := rf
		if rng.IntN(2) == 0 {
			minISR = int32(1 + rng.IntN(int(rf)))
		}
		d.Topics = append(d.Topics, DataTopic{Name: fmt.Sprintf("d%d", i), Partitions: int32(parts), RF: rf, MinISR: minISR})
	}
	d.PartitionsMax = int32(total/topics + 3)
	// A wide run costs about its partitions: a shorter one keeps sweeps quick.
	c.SafetyDuration = min(c.SafetyDuration, time.Duration(10+rng.IntN(7))*time.Second)
	d.OffsetsPartitions = 0 // the node's default: 50
	for i := range d.Groups {
		d.Groups[i].Topics = d.Groups[i].Topics[:0]
		for _, t := range d.Topics {
			d.Groups[i].Topics = append(d.Groups[i].Topics, t.Name)
		}
	}
}

// drawRecordSizes draws bigger batches and records for some producers. Producers
// that fill batches up to message.max.bytes lower it (16 to 256 KiB): batches at and
// above the limit cost what they weigh, the refusal path is the same.
func drawRecordSizes(rng *rand.Rand, c *Config) {
	lowered := int32(16<<10 + rng.IntN(240<<10))
	for i := range c.Data.Producers {
		p := &c.Data.Producers[i]
		switch r := rng.IntN(100); {
		case r < 15:
			p.RecordsMax = 4 + rng.IntN(17)
		case r < 20:
			p.RecordsMax = 20 + rng.IntN(81)
		}
		switch r := rng.IntN(100); {
		case r < 15:
			p.ValueBytesMax = 64 + rng.IntN(4<<10)
		case r < 21:
			p.ValueBytesMax = 4<<10 + rng.IntN(60<<10)
		case r < 31:
			// Batches up to the limit, and, from plain producers, often above it.
			if c.Wide.MessageBytesMax == 0 {
				c.Wide.MessageBytesMax = lowered
			}
			limit := int(c.Wide.MessageBytesMax)
			p.RecordsMax = max(p.RecordsMax, 2)
			p.ValueBytesMax = limit/p.RecordsMax + rng.IntN(limit)
		}
	}
}

// drawRetention gives some data topics retention.ms or retention.bytes small enough to
// delete segments during the run, and some seeds' readers DeleteRecords. A quarter of
// the topics with retention are compacted (cleanup.policy=compact), which must keep
// every record all the same, as __consumer_offsets does.
func drawRetention(rng *rand.Rand, c *Config) {
	d := &c.Data
	seg := c.SegmentBytes
	for i := range d.Topics {
		t := &d.Topics[i]
		if rng.IntN(100) < 30 {
			t.RetentionMs = int64(1000 + rng.IntN(19000))
		}
		if seg > 0 && rng.IntN(100) < 30 {
			t.RetentionBytes = seg * int64(1+rng.IntN(6))
		}
		if (t.RetentionMs > 0 || t.RetentionBytes > 0) && rng.IntN(100) < 25 {
			t.Compact = true
		}
	}
	if d.Readers > 0 && rng.IntN(100) < 30 {
		d.DeletePPM = int64(20_000 + rng.IntN(180_000))
	}
	if d.deletes() && c.SegmentAge == 0 && rng.IntN(100) < 70 {
		// Retention deletes whole segments only: roll them by age.
		c.SegmentAge = time.Duration(300+rng.IntN(4700)) * time.Millisecond
	}
	if d.deletes() {
		c.Wide.RetentionCheck = time.Duration(200+rng.IntN(2800)) * time.Millisecond
	}
}

// deletes reports whether records may be deleted during the run: a data topic has a
// retention small enough to act (or to be ignored, on a compacted topic), or readers
// issue DeleteRecords.
func (d *DataConfig) deletes() bool {
	if d.DeletePPM > 0 {
		return true
	}
	for _, t := range d.Topics {
		if t.RetentionMs > 0 || t.RetentionBytes > 0 {
			return true
		}
	}
	return false
}

// mayDelete reports whether records of topic may be deleted during the run: never on
// a compacted topic.
func (d *DataConfig) mayDelete(topic string) bool {
	t, ok := d.topic(topic)
	return ok && !t.Compact && (d.DeletePPM > 0 || t.RetentionMs > 0 || t.RetentionBytes > 0)
}

// keepsAllBecause says why no record of topic may be deleted during the run.
func (d *DataConfig) keepsAllBecause(topic string) string {
	if t, ok := d.topic(topic); ok && t.Compact {
		return "cleanup.policy=compact"
	}
	return "no retention small enough to act and no DeleteRecords"
}

// drawWorkloadSwarm switches whole kinds of client work on or off.
func drawWorkloadSwarm(rng *rand.Rand, c *Config) {
	d := &c.Data
	w := &c.Workload
	kinds := []string{"admin", "readers", "groups", "grower", "deletes", "producers"}
	on := func(kind string) {
		switch kind {
		case "admin":
			w.Clients = max(w.Clients, 1)
		case "readers":
			d.Readers = max(d.Readers, 1)
		case "groups":
			if len(d.Groups) == 0 {
				g := GroupSpec{Name: "g0", Members: 1 + rng.IntN(3), Assignor: []string{"range", "roundrobin"}[rng.IntN(2)], LeavePPM: 5_000}
				for _, t := range d.Topics {
					g.Topics = append(g.Topics, t.Name)
				}
				d.Groups = append(d.Groups, g)
			}
		case "grower":
			if d.GrowInterval == 0 {
				d.GrowInterval = time.Duration(4+rng.IntN(12)) * time.Second
			}
		case "deletes":
			d.Readers = max(d.Readers, 1)
			if d.DeletePPM == 0 {
				d.DeletePPM = 50_000
			}
		case "producers":
			// Every kind of producer.
			var ps []ProducerSpec
			for _, acks := range []int16{0, 1, -1, -1} {
				p := drawProducer(rng)
				p.Acks, p.Idempotent = acks, acks == -1 && len(ps) == 3
				ps = append(ps, p)
			}
			d.Producers = ps
		}
	}
	off := func(kind string) {
		switch kind {
		case "admin":
			w.Clients = 0
		case "readers":
			d.Readers, d.DeletePPM = 0, 0
		case "groups":
			d.Groups = nil
		case "grower":
			d.GrowInterval = 0
		case "deletes":
			d.DeletePPM = 0
		case "producers":
			// One producer stays: a run without writes checks little.
			d.Producers = d.Producers[:1]
		}
	}
	switch r := rng.IntN(100); {
	case r < 70:
		c.Wide.WorkloadSwarm = "drawn"
		if len(d.Groups) == 0 && rng.IntN(100) < 30 {
			on("groups")
		}
	case r < 80:
		c.Wide.WorkloadSwarm = "all"
		for _, k := range kinds {
			on(k)
		}
	case r < 92:
		c.Wide.WorkloadSwarm = "drop"
		for _, k := range kinds {
			if rng.IntN(2) == 0 {
				off(k)
			}
		}
	default:
		c.Wide.WorkloadSwarm = "solo"
		keep := kinds[rng.IntN(len(kinds)-1)]
		for _, k := range kinds[:len(kinds)-1] {
			if k != keep {
				off(k)
			}
		}
		on(keep)
	}
	if !d.deletes() {
		c.Wide.RetentionCheck = 0
	} else if c.Wide.RetentionCheck == 0 {
		c.Wide.RetentionCheck = time.Duration(200+rng.IntN(2800)) * time.Millisecond
	}
}

// switches lists the switches of the fault kinds, in kinds() order.
func (f *FaultConfig) switches() []*bool {
	return []*bool{&f.Crash, &f.Pause, &f.Partition, &f.Clog, &f.LinkRates, &f.DiskEIO, &f.DiskENOSPC,
		&f.ReadCorrupt, &f.AtRestCorrupt, &f.PartitionCorrupt, &f.ClockJump, &f.CrashOnWrite, &f.PowerLoss,
		&f.Shutdown, &f.Byzantine, &f.LeaseEdge}
}

// drawFaultSwarm switches whole fault kinds on or off: as drawn, none, a single one,
// all, or each with even odds.
func drawFaultSwarm(rng *rand.Rand, c *Config) {
	f := &c.Faults
	sw := f.switches()
	f.LeaseEdge = f.Any() && rng.IntN(4) == 0
	single := rng.IntN(len(sw))
	half := rng.Uint64()
	set := func(on func(i int) bool) {
		for i, s := range sw {
			*s = on(i)
		}
	}
	swarm := &c.Wide.FaultSwarm
	switch r := rng.IntN(100); {
	case r < 60:
		*swarm = "drawn"
	case r < 65:
		*swarm = "none"
		set(func(int) bool { return false })
	case r < 80:
		*swarm = "single"
		set(func(i int) bool { return i == single })
	case r < 90:
		*swarm = "all"
		set(func(int) bool { return true })
	default:
		*swarm = "half"
		set(func(i int) bool { return half>>i&1 == 1 })
	}
	// Damage to partition data needs data partitions.
	f.PartitionCorrupt = f.PartitionCorrupt && c.Data.On()
	if !f.Crash {
		f.Storm, f.ElectedCrashPPM, f.LivenessDown = false, 0, 0
	}
	if *swarm != "drawn" && f.Storm {
		f.Interval = max(f.Interval, c.Timing.ElectionTimeout)
	}
}

// drawEdges moves timings close to their limits, in some seeds, and draws fault
// durations close to them.
func drawEdges(rng *rand.Rand, c *Config) {
	t := &c.Timing
	f := &c.Faults
	tight := rng.IntN(100) < tightTimingPercent
	leaseTight, hbTight, electionTight, driftEdge := rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0
	epsPPM := 1_000 + rng.Int64N(29_000) // how far below the limit, in ppm
	hbShare := 0.6 + rng.Float64()*0.25
	electionShare := 1.0 + rng.Float64()*0.3
	edgePPM := 200_000 + rng.Int64N(500_000)
	if tight {
		if electionTight {
			fetch := time.Duration(float64(t.ElectionTimeout) * electionShare)
			if fetch > t.QuorumFetchMaxWait+100*time.Millisecond {
				t.QuorumFetchTimeout = fetch
				c.Wide.Timing = append(c.Wide.Timing, "election near the quorum fetch timeout")
			}
		}
		if leaseTight {
			// The longest lease the inequality allows, less a sliver.
			rho := t.ClockDriftMax
			limit := float64(t.SessionTimeout)*(1-rho)/(1+rho) - float64(t.QuorumFetchTimeout)
			lease := time.Duration(limit * (1 - float64(epsPPM)/1e6))
			for lease > t.HeartbeatInterval && !controller.LeaseSafe(lease, t.QuorumFetchTimeout, t.SessionTimeout, rho) {
				lease -= time.Millisecond
			}
			if lease > t.LeaseDuration {
				t.LeaseDuration = lease
				c.Wide.Timing = append(c.Wide.Timing, fmt.Sprintf("lease %s below the inequality's limit", ppm(epsPPM)))
			}
		}
		if hbTight {
			hb := time.Duration(float64(t.LeaseDuration) * hbShare)
			if hb > t.HeartbeatInterval && t.LeaseDuration-hb >= 200*time.Millisecond {
				t.HeartbeatInterval = hb
				c.Wide.Timing = append(c.Wide.Timing, "heartbeats near the lease")
			}
		}
		if driftEdge {
			limit := int64(t.ClockDriftMax * ppmScale / 2)
			for i := range c.Nodes {
				if c.Nodes[i].DriftPPM < 0 {
					c.Nodes[i].DriftPPM = -limit
				} else {
					c.Nodes[i].DriftPPM = limit
				}
			}
			c.Wide.Timing = append(c.Wide.Timing, "clocks drifting at the edge")
		}
	}
	if f.Any() && rng.IntN(100) < 35 {
		f.EdgePPM = edgePPM
	}
}

// edgeTimeouts are the timeouts fault durations land close to (edgeDuration).
func edgeTimeouts(t *core.Timing) []time.Duration {
	return []time.Duration{t.LeaseDuration, t.SessionTimeout, t.LeaseDuration + t.QuorumFetchTimeout, t.ElectionTimeout,
		t.QuorumFetchTimeout, t.HeartbeatInterval, t.ReplicaLagMax, t.RequestTimeout / 3}
}

// wideString renders the wide draws for the configuration block.
func (c *Config) wideString() string {
	var b strings.Builder
	wc := &c.Wide
	maxMsg := "default"
	if wc.MessageBytesMax > 0 {
		maxMsg = fmt.Sprintf("%d", wc.MessageBytesMax)
	}
	fmt.Fprintf(&b, "sizes: message.max.bytes %s", maxMsg)
	if wc.RetentionCheck > 0 {
		fmt.Fprintf(&b, "; retention checked every %v", wc.RetentionCheck)
	}
	if wc.CleanerBackoff > 0 {
		fmt.Fprintf(&b, "; cleaner backoff %v", wc.CleanerBackoff)
	}
	if c.CleanerDedupeBytes > 0 {
		fmt.Fprintf(&b, "; cleaner offset map %d bytes", c.CleanerDedupeBytes)
	}
	if c.CleanerStepBytes > 0 {
		fmt.Fprintf(&b, "; cleaner steps of %d bytes", c.CleanerStepBytes)
	}
	if c.CleanerBytesPerSec > 0 {
		fmt.Fprintf(&b, "; cleaner I/O %d B/s", c.CleanerBytesPerSec)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "swarm: faults %s, workload %s", orDash(wc.FaultSwarm), orDash(wc.WorkloadSwarm))
	if wc.Wide {
		b.WriteString(", wide")
	}
	if len(wc.Timing) > 0 {
		fmt.Fprintf(&b, "; timing at the edges: %s", strings.Join(wc.Timing, ", "))
	}
	if c.Faults.EdgePPM > 0 {
		fmt.Fprintf(&b, "; %s of fault durations near a timeout", ppm(c.Faults.EdgePPM))
	}
	b.WriteString("\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// codecName names a codec for coverage counters.
func codecName(c record.Codec) string { return strings.ToLower(c.String()) }

// topicConfigs are the retention, cleanup and timestamp configs a data topic is
// created with.
func topicConfigs(t DataTopic) []kmsg.CreateTopicsRequestTopicConfig {
	var out []kmsg.CreateTopicsRequestTopicConfig
	if t.Compact {
		out = append(out, kmsg.CreateTopicsRequestTopicConfig{Name: "cleanup.policy", Value: kmsg.StringPtr("compact")},
			kmsg.CreateTopicsRequestTopicConfig{Name: "min.cleanable.dirty.ratio", Value: kmsg.StringPtr(strconv.FormatFloat(t.DirtyRatio, 'g', -1, 64))},
			kmsg.CreateTopicsRequestTopicConfig{Name: "delete.retention.ms", Value: kmsg.StringPtr(strconv.FormatInt(t.DeleteRetentionMs, 10))})
		if t.MinLagMs > 0 {
			out = append(out, kmsg.CreateTopicsRequestTopicConfig{Name: "min.compaction.lag.ms", Value: kmsg.StringPtr(strconv.FormatInt(t.MinLagMs, 10))})
		}
		if t.MaxLagMs > 0 {
			out = append(out, kmsg.CreateTopicsRequestTopicConfig{Name: "max.compaction.lag.ms", Value: kmsg.StringPtr(strconv.FormatInt(t.MaxLagMs, 10))})
		}
	}
	if t.LogAppendTime {
		out = append(out, kmsg.CreateTopicsRequestTopicConfig{Name: "message.timestamp.type", Value: kmsg.StringPtr("LogAppendTime")})
	}
	if t.CompressionType != "" {
		out = append(out, kmsg.CreateTopicsRequestTopicConfig{Name: "compression.type", Value: kmsg.StringPtr(t.CompressionType)})
	}
	add := func(name string, v int64) {
		if v > 0 {
			s := strconv.FormatInt(v, 10)
			out = append(out, kmsg.CreateTopicsRequestTopicConfig{Name: name, Value: &s})
		}
	}
	add("retention.ms", t.RetentionMs)
	add("retention.bytes", t.RetentionBytes)
	add("segment.bytes", t.SegmentBytes)
	add("segment.ms", t.SegmentMs)
	add("segment.jitter.ms", t.SegmentJitterMs)
	add("segment.index.bytes", t.SegmentIndexBytes)
	add("message.timestamp.before.max.ms", t.TimestampBoundMs)
	add("message.timestamp.after.max.ms", t.TimestampBoundMs)
	return out
}

// manyPartitions is the count of data partitions from which a run counts as wide.
const manyPartitions = 20
