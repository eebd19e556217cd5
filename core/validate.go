package core

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/seedlog/seedlog/core/controller"
	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/sasl"
)

// TimingMsMax is the largest timing the node accepts, in milliseconds: Kafka's int
// settings' range (about 24.8 days). Deadlines are the node's clock plus a timing, so an
// unbounded one could overflow.
const TimingMsMax = math.MaxInt32

// Validate checks everything the node's constructors and components rely on, on the
// configuration with its zero values at their defaults: whatever it accepts, New and
// Start run without panicking. Its error names the settings by the Kafka-style names of
// the real node's configuration (node.Settings) and gives their values, on one line.
//
// It is a pure function: the real node calls it on the configuration it will build before
// it binds a port, and the simulator on every configuration it draws.
func (c Config) Validate() error {
	c = c.withDefaults()
	for _, check := range []func(Config) error{validateRoles, validateTimings, validateTimingOrder, validateLease, validateDefaults, validateLimits, validateStatic} {
		if err := check(c); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

func validateRoles(c Config) error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("node.id=%d: want a node id >= 0", c.NodeID)
	case len(c.Voters) == 0:
		return fmt.Errorf("controller.quorum.voters is empty")
	case slices.ContainsFunc(c.Voters, func(v int32) bool { return v < 0 }):
		return fmt.Errorf("controller.quorum.voters %v: node ids must be >= 0", c.Voters)
	case !slices.IsSorted(c.Voters) || len(slices.Compact(slices.Clone(c.Voters))) != len(c.Voters):
		return fmt.Errorf("controller.quorum.voters %v: want each voter once, sorted", c.Voters)
	case !c.Broker && !c.IsVoter():
		return fmt.Errorf("process.roles: node %d is neither a broker nor in controller.quorum.voters", c.NodeID)
	}
	return nil
}

// timingSettings lists every timing with its setting name, in the order of the node's
// settings.
func timingSettings(t *Timing) []struct {
	name string
	v    time.Duration
} {
	return []struct {
		name string
		v    time.Duration
	}{
		{"controller.quorum.election.timeout.ms", t.ElectionTimeout},
		{"controller.quorum.fetch.max.wait.ms", t.QuorumFetchMaxWait},
		{"controller.quorum.fetch.timeout.ms", t.QuorumFetchTimeout},
		{"broker.heartbeat.interval.ms", t.HeartbeatInterval},
		{"broker.session.timeout.ms", t.SessionTimeout},
		{"broker.lease.ms", t.LeaseDuration},
		{"replica.lag.time.max.ms", t.ReplicaLagMax},
		{"replica.fetch.wait.max.ms", t.ReplicaFetchMaxWait},
		{"replica.fetch.idle.wait.max.ms", t.ReplicaFetchIdleMaxWait},
		{"request.timeout.ms", t.RequestTimeout},
	}
}

func validateTimings(c Config) error {
	for _, s := range timingSettings(&c.Timing) {
		if s.v < time.Millisecond || s.v > TimingMsMax*time.Millisecond {
			return fmt.Errorf("%s=%s: want milliseconds in [1, %d]", s.name, msString(s.v), TimingMsMax)
		}
	}
	if d := c.ClockDriftMax; !(d > 0 && d < 0.5) {
		return fmt.Errorf("clock.drift.max=%v: want a fraction in (0, 0.5)", d)
	}
	return nil
}

// validateTimingOrder checks the timings that must come in an order, each for the
// component that relies on it.
func validateTimingOrder(c Config) error {
	t := &c.Timing
	switch {
	case t.QuorumFetchTimeout <= t.QuorumFetchMaxWait:
		// A follower whose fetch the leader holds for the whole wait would time out and
		// start an election against a healthy leader.
		return fmt.Errorf("controller.quorum.fetch.timeout.ms=%s must exceed controller.quorum.fetch.max.wait.ms=%s",
			msString(t.QuorumFetchTimeout), msString(t.QuorumFetchMaxWait))
	case t.SessionTimeout <= t.HeartbeatInterval:
		return fmt.Errorf("broker.session.timeout.ms=%s must exceed broker.heartbeat.interval.ms=%s",
			msString(t.SessionTimeout), msString(t.HeartbeatInterval))
	case t.LeaseDuration <= t.HeartbeatInterval:
		// A shorter lease would lapse between heartbeats and leave partitions unled.
		return fmt.Errorf("broker.lease.ms=%s must exceed broker.heartbeat.interval.ms=%s",
			msString(t.LeaseDuration), msString(t.HeartbeatInterval))
	case t.ReplicaLagMax <= t.ReplicaFetchMaxWait:
		// As in Kafka: a caught-up follower whose fetch is held for the whole wait must
		// not look lagging, or quiet partitions shrink their ISR.
		return fmt.Errorf("replica.lag.time.max.ms=%s must exceed replica.fetch.wait.max.ms=%s",
			msString(t.ReplicaLagMax), msString(t.ReplicaFetchMaxWait))
	}
	return nil
}

// validateLease checks the lease inequality the controller relies on (DESIGN.md 4.3): a
// broker's lease, plus the time a deposed quorum leader may go on acting, ends before any
// controller fences the broker, whatever the clocks' drift:
//
//	(broker.lease.ms + controller.quorum.fetch.timeout.ms) * (1 + clock.drift.max)
//	  < broker.session.timeout.ms * (1 - clock.drift.max)
func validateLease(c Config) error {
	t := &c.Timing
	if controller.LeaseSafe(t.LeaseDuration, t.QuorumFetchTimeout, t.SessionTimeout, t.ClockDriftMax) {
		return nil
	}
	rho := t.ClockDriftMax
	// The largest lease that passes, in whole milliseconds, to say what would do.
	limit := float64(t.SessionTimeout)*(1-rho)/(1+rho) - float64(t.QuorumFetchTimeout)
	hint := "raise broker.session.timeout.ms"
	if best := int64(math.Ceil(limit/float64(time.Millisecond))) - 1; best > int64(t.HeartbeatInterval/time.Millisecond) {
		hint = fmt.Sprintf("set broker.lease.ms to at most %d or raise broker.session.timeout.ms", best)
	}
	return fmt.Errorf("broker.lease.ms=%s is unsafe: (broker.lease.ms + controller.quorum.fetch.timeout.ms=%s) * (1 + clock.drift.max=%v) must be below broker.session.timeout.ms=%s * (1 - clock.drift.max); %s",
		msString(t.LeaseDuration), msString(t.QuorumFetchTimeout), rho, msString(t.SessionTimeout), hint)
}

func validateDefaults(c Config) error {
	d := &c.Defaults
	switch {
	case d.Partitions < 1:
		return fmt.Errorf("num.partitions=%d: want at least 1", d.Partitions)
	case d.ReplicationFactor < 1 || d.ReplicationFactor > math.MaxInt16:
		return fmt.Errorf("default.replication.factor=%d: want 1 to %d", d.ReplicationFactor, math.MaxInt16)
	case d.MinInsyncReplicas < 1:
		return fmt.Errorf("min.insync.replicas=%d: want at least 1", d.MinInsyncReplicas)
	case d.MinInsyncReplicas > d.ReplicationFactor:
		return fmt.Errorf("min.insync.replicas=%d above default.replication.factor=%d", d.MinInsyncReplicas, d.ReplicationFactor)
	case d.TxnTopicPartitions < 1:
		return fmt.Errorf("transaction.state.log.num.partitions=%d: want at least 1", d.TxnTopicPartitions)
	case d.TxnTopicReplicationFactor < 0 || d.TxnTopicReplicationFactor > math.MaxInt16:
		return fmt.Errorf("transaction.state.log.replication.factor=%d: want 0 (up to 3 live brokers) to %d", d.TxnTopicReplicationFactor, math.MaxInt16)
	case d.OffsetsTopicPartitions < 1:
		return fmt.Errorf("offsets.topic.num.partitions=%d: want at least 1", d.OffsetsTopicPartitions)
	case d.OffsetsTopicReplicationFactor < 0 || d.OffsetsTopicReplicationFactor > math.MaxInt16:
		return fmt.Errorf("offsets.topic.replication.factor=%d: want 0 (up to 3 live brokers) to %d", d.OffsetsTopicReplicationFactor, math.MaxInt16)
	}
	return nil
}

// validateStatic checks the static topic defaults, and that a key a typed field also
// holds says what the field says: the node enforces the field, and DescribeConfigs must
// report what is enforced.
func validateStatic(c Config) error {
	if err := c.StaticConfig.Check(); err != nil {
		return err
	}
	for _, e := range c.typedStatic() {
		if v, listed := c.StaticConfig.Lookup(e.Key); listed && v != e.Value {
			return fmt.Errorf("%s: the static config says %q, the setting %q", e.Key, v, e.Value)
		}
	}
	return nil
}

func validateLimits(c Config) error {
	switch {
	case c.FetchSessionSlots > kafka.FetchSessionSlotsMax:
		return fmt.Errorf("max.incremental.fetch.session.cache.slots=%d: want at most %d", c.FetchSessionSlots, kafka.FetchSessionSlotsMax)
	case c.InFlightPerConnMax < 1:
		return fmt.Errorf("max.inflight.requests.per.connection=%d: want at least 1", c.InFlightPerConnMax)
	case c.ConnectionsMax < 1:
		return fmt.Errorf("max.connections=%d: want at least 1", c.ConnectionsMax)
	case c.BrokerPartitionsMax < 1 || c.BrokerPartitionsMax > BrokerPartitionsMaxLimit:
		return fmt.Errorf("max.broker.partitions=%d: want replicas in [1, %d]", c.BrokerPartitionsMax, BrokerPartitionsMaxLimit)
	case c.MetadataSnapshotRecords < 0:
		return fmt.Errorf("metadata.snapshot.records=%d: want at least 1", c.MetadataSnapshotRecords)
	case c.OffsetsRetention < 0 || c.OffsetsRetention > group.OffsetsRetentionMax:
		return fmt.Errorf("offsets.retention.minutes=%v: want a duration in (0, %v]", c.OffsetsRetention, group.OffsetsRetentionMax)
	case c.OffsetsRetentionCheck < 0 || c.OffsetsRetentionCheck > TimingMsMax*time.Millisecond:
		// The next check is the clock plus the interval: an unbounded one could overflow.
		return fmt.Errorf("offsets.retention.check.interval.ms=%s: want milliseconds in [1, %d]", msString(c.OffsetsRetentionCheck), TimingMsMax)
	case c.TxnMaxTimeout < time.Millisecond || c.TxnMaxTimeout > TimingMsMax*time.Millisecond:
		return fmt.Errorf("transaction.max.timeout.ms=%s: want milliseconds in [1, %d]", msString(c.TxnMaxTimeout), TimingMsMax)
	case c.TxnVersion != 1 && c.TxnVersion != 2:
		return fmt.Errorf("transaction.version=%d: want 1 or 2", c.TxnVersion)
	case c.TxnIDExpiration < time.Millisecond || c.TxnIDExpiration > TimingMsMax*time.Millisecond:
		// Kafka's int setting; a record's last update plus it must not overflow.
		return fmt.Errorf("transactional.id.expiration.ms=%s: want milliseconds in [1, %d]", msString(c.TxnIDExpiration), TimingMsMax)
	case c.CleanerStepBytes < 0:
		return fmt.Errorf("log.cleaner.io.buffer.size=%d: want bytes in [1, %d]", c.CleanerStepBytes, math.MaxInt32)
	case c.CleanerBytesPerSec < 0:
		return fmt.Errorf("log.cleaner.io.max.bytes.per.second=%d: want a positive rate", c.CleanerBytesPerSec)
	case c.ReauthMax < 0 || c.ReauthMax > TimingMsMax*time.Millisecond:
		return fmt.Errorf("connections.max.reauth.ms=%s: want 0 (off) or milliseconds up to %d", msString(c.ReauthMax), TimingMsMax)
	case c.QuotaWindowNum < 1 || c.QuotaWindowNum > QuotaWindowNumMax:
		return fmt.Errorf("quota.window.num=%d: want samples in [1, %d]", c.QuotaWindowNum, QuotaWindowNumMax)
	case c.QuotaWindowSize < time.Millisecond || c.QuotaWindowSize > time.Hour:
		return fmt.Errorf("quota.window.size.seconds=%v: want a window in [1ms, 1h]", c.QuotaWindowSize)
	}
	return validateMechanisms(c.SASLMechanisms)
}

// validateMechanisms accepts each SASL mechanism seedlog serves, once.
func validateMechanisms(mechs []string) error {
	for i, m := range mechs {
		switch m {
		case sasl.NamePlain, sasl.NameScramSHA256, sasl.NameScramSHA512:
		default:
			return fmt.Errorf("sasl.enabled.mechanisms: %q is not served; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", m)
		}
		if slices.Contains(mechs[:i], m) {
			return fmt.Errorf("sasl.enabled.mechanisms: %s listed twice", m)
		}
	}
	return nil
}

// msString renders a duration as the milliseconds a setting holds.
func msString(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return strconv.FormatInt(int64(d/time.Millisecond), 10)
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64)
}
