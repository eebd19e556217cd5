package controller

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
)

// Config sets up a Controller. Durations are measured on the clock of whoever applies
// them: HeartbeatInterval and LeaseDuration on the broker's, SessionTimeout on the
// controller's, QuorumFetchTimeout on the old quorum leader's.
type Config struct {
	NodeID int32
	// HeartbeatInterval is how often brokers heartbeat (Kafka's default is 2s).
	HeartbeatInterval time.Duration
	// SessionTimeout: a broker not heard from for this long is fenced (default 9s).
	SessionTimeout time.Duration
	// LeaseDuration is how long after sending a heartbeat that was acknowledged
	// unfenced a broker may keep leading its partitions.
	LeaseDuration time.Duration
	// ClockDriftMax bounds every clock's rate error: a clock advances between 1-drift
	// and 1+drift seconds per real second.
	ClockDriftMax float64
	// QuorumFetchTimeout is the longest a deposed quorum leader may go on acting as
	// leader, on its own clock, after a majority stopped following it (its check-quorum
	// bound). If the quorum checks periodically, this is the check period plus the
	// timeout, not the timeout alone.
	QuorumFetchTimeout time.Duration
	// DefaultPartitions and DefaultReplicationFactor serve CreateTopics' -1.
	DefaultPartitions        int32
	DefaultReplicationFactor int32
	// ProducerIDBlockSize is how many producer ids one AllocateProducerIDs hands out.
	ProducerIDBlockSize int64
	// MessageBytesMax is the broker's static message.max.bytes: the ceiling of every
	// max.message.bytes the controller accepts, for a topic or as the cluster default.
	// 0 means MessageBytesMaxDefault.
	MessageBytesMax int32
	// BrokerPartitionsMax is max.broker.partitions (KIP-578): the most partition
	// replicas one broker may hold, replicas being added by a reassignment included.
	// CreateTopics, CreatePartitions and AlterPartitionReassignments that would go past
	// it are refused with POLICY_VIOLATION. Each replica keeps files open on its broker,
	// which fails when it runs out of descriptors. 0 means BrokerPartitionsMaxDefault.
	BrokerPartitionsMax int
	// Authorizer says the cluster authorizes with ACLs (authorizer.class.name): without
	// it, CreateAcls and DeleteAcls answer SECURITY_DISABLED.
	Authorizer bool
	// AutoLeaderRebalance (auto.leader.rebalance.enable) checks every
	// LeaderImbalanceCheckInterval whether a broker leads too few of the partitions it
	// is the preferred leader of: more than LeaderImbalancePercent of them
	// (leader.imbalance.per.broker.percentage) led elsewhere, and those move back.
	AutoLeaderRebalance          bool
	LeaderImbalancePercent       int
	LeaderImbalanceCheckInterval time.Duration
	// Static is the node's static layer of topic configs (its broker.properties): the
	// controller resolves min.insync.replicas with it when a change would remove in-sync
	// replicas.
	Static metadata.StaticConfig
	// Rand places replicas and draws topic ids.
	Rand   *rand.Rand
	Plants plant.Set
}

// MessageBytesMaxDefault is Kafka's message.max.bytes default.
const MessageBytesMaxDefault = 1048588

// BrokerPartitionsMaxDefault is max.broker.partitions' default, and
// BrokerPartitionsMaxLimit the largest value accepted: a broker's replicas each keep
// files open, and a million replicas already need millions of descriptors.
const (
	BrokerPartitionsMaxDefault = 4000
	BrokerPartitionsMaxLimit   = 1_000_000
)

func (c Config) brokerPartitionsMax() int {
	if c.BrokerPartitionsMax <= 0 {
		return BrokerPartitionsMaxDefault
	}
	return c.BrokerPartitionsMax
}

func (c Config) messageBytesMax() int32 {
	if c.MessageBytesMax <= 0 {
		return MessageBytesMaxDefault
	}
	return c.MessageBytesMax
}

// DefaultConfig returns Kafka-like settings that satisfy the lease inequality with room
// to spare: (5s + 3s) * 1.01 = 8.08s < 9s * 0.99 = 8.91s.
func DefaultConfig(nodeID int32, rng *rand.Rand) Config {
	return Config{
		NodeID:                       nodeID,
		HeartbeatInterval:            2 * time.Second,
		SessionTimeout:               9 * time.Second,
		LeaseDuration:                5 * time.Second,
		ClockDriftMax:                0.01,
		QuorumFetchTimeout:           3 * time.Second,
		DefaultPartitions:            1,
		DefaultReplicationFactor:     1,
		ProducerIDBlockSize:          1000,
		MessageBytesMax:              MessageBytesMaxDefault,
		BrokerPartitionsMax:          BrokerPartitionsMaxDefault,
		AutoLeaderRebalance:          true,
		LeaderImbalancePercent:       10,
		LeaderImbalanceCheckInterval: 300 * time.Second,
		Rand:                         rng,
	}
}

// Validate checks the settings, above all the lease inequality (see the package doc):
//
//	(LeaseDuration + QuorumFetchTimeout) * (1 + ClockDriftMax) < SessionTimeout * (1 - ClockDriftMax)
func (c Config) Validate() error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("controller: node id %d", c.NodeID)
	case c.HeartbeatInterval <= 0 || c.SessionTimeout <= c.HeartbeatInterval:
		return fmt.Errorf("controller: heartbeat interval %v must be positive and below the session timeout %v",
			c.HeartbeatInterval, c.SessionTimeout)
	case c.LeaseDuration <= c.HeartbeatInterval:
		// A shorter lease would lapse between heartbeats and leave partitions unled.
		return fmt.Errorf("controller: lease %v must exceed the heartbeat interval %v", c.LeaseDuration, c.HeartbeatInterval)
	case c.QuorumFetchTimeout < 0:
		return fmt.Errorf("controller: negative quorum fetch timeout %v", c.QuorumFetchTimeout)
	case !(c.ClockDriftMax >= 0 && c.ClockDriftMax < 0.5):
		return fmt.Errorf("controller: clock drift bound %v outside [0, 0.5)", c.ClockDriftMax)
	case c.DefaultPartitions < 1 || c.DefaultReplicationFactor < 1 || c.DefaultReplicationFactor > math.MaxInt16:
		return fmt.Errorf("controller: default partitions %d, replication factor %d", c.DefaultPartitions, c.DefaultReplicationFactor)
	case c.MessageBytesMax < 0:
		return fmt.Errorf("controller: message bytes max %d", c.MessageBytesMax)
	case c.BrokerPartitionsMax < 0 || c.BrokerPartitionsMax > BrokerPartitionsMaxLimit:
		return fmt.Errorf("controller: broker partitions max %d outside 0..%d", c.BrokerPartitionsMax, BrokerPartitionsMaxLimit)
	case c.ProducerIDBlockSize < 1 || c.ProducerIDBlockSize > math.MaxInt32:
		return fmt.Errorf("controller: producer id block size %d outside 1..%d", c.ProducerIDBlockSize, math.MaxInt32)
	case c.LeaderImbalancePercent < 0 || c.LeaderImbalancePercent > 100:
		return fmt.Errorf("controller: leader imbalance percentage %d outside 0..100", c.LeaderImbalancePercent)
	case c.AutoLeaderRebalance && c.LeaderImbalanceCheckInterval <= 0:
		return fmt.Errorf("controller: leader imbalance check interval %v must be positive", c.LeaderImbalanceCheckInterval)
	case c.Rand == nil:
		return errors.New("controller: nil Rand")
	}
	if !LeaseSafe(c.LeaseDuration, c.QuorumFetchTimeout, c.SessionTimeout, c.ClockDriftMax) {
		return fmt.Errorf("controller: unsafe leases: (lease %v + quorum fetch timeout %v) * (1 + %v) must be below session timeout %v * (1 - %v)",
			c.LeaseDuration, c.QuorumFetchTimeout, c.ClockDriftMax, c.SessionTimeout, c.ClockDriftMax)
	}
	return nil
}

// LeaseSafe reports whether a broker's lease always ends before any controller fences
// it: (lease + quorumFetch) * (1 + drift) < session * (1 - drift). float64 holds
// nanosecond durations exactly up to about 104 days and the products round by far less
// than a nanosecond, so rounding cannot flip the answer at any realistic setting.
func LeaseSafe(lease, quorumFetch, session time.Duration, drift float64) bool {
	return float64(lease+quorumFetch)*(1+drift) < float64(session)*(1-drift)
}
