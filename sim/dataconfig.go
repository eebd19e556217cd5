package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/record"
)

// DataConfig says what the data clients do: producers, readers and consumer groups over
// a few data topics that a setup client creates at the start and that live for the
// whole run. It is drawn from its own random stream, so drawing it never shifts the rest
// of the configuration.
type DataConfig struct {
	Topics    []DataTopic
	Producers []ProducerSpec
	// Readers are plain consumers: fetches and ListOffsets on any partition.
	Readers int
	Groups  []GroupSpec
	// SessionReaders of the readers (the first ones) fetch with incremental fetch sessions
	// (sessions.go), reading at most SessionPartitions partitions at once; SessionNames
	// makes their fetches name topics (Fetch v12) rather than topic ids.
	SessionReaders    int
	SessionPartitions int
	SessionNames      bool
	// FetchSessionSlots is the brokers' max.incremental.fetch.session.cache.slots (0:
	// Kafka's 1000).
	FetchSessionSlots int
	// BrokerPartitionsMax is the nodes' max.broker.partitions (0: the node's default),
	// drawn small in some seeds (brokercap.go).
	BrokerPartitionsMax int
	// OpInterval is the mean think time of a data client between two operations.
	OpInterval time.Duration
	// GrowInterval is the mean time between two CreatePartitions on a data topic (0:
	// never); PartitionsMax bounds the growth.
	GrowInterval  time.Duration
	PartitionsMax int32
	// FetchWaitMax is the max.wait of readers' and members' fetches.
	FetchWaitMax time.Duration
	// FlushAsync runs every topic with log.flush=async (Kafka's page-cache durability),
	// which gives up promise 1 of DESIGN.md: a correlated power loss may lose
	// acknowledged acks=all records. The checkers then report such a loss as allowed.
	FlushAsync bool
	// OffsetsPartitions is offsets.topic.num.partitions; OffsetsRF is
	// offsets.topic.replication.factor (0: as many replicas as live brokers, up to 3).
	OffsetsPartitions int32
	OffsetsRF         int32
	// DeliveryTimeout bounds how long a producer keeps retrying one batch.
	DeliveryTimeout time.Duration
	// DeletePPM is the chance of a reader's operation to be a DeleteRecords below
	// what it read (0: readers never delete).
	DeletePPM int64
	// OffsetsRetention and OffsetsRetentionCheck are offsets.retention.minutes and
	// offsets.retention.check.interval.ms (0: the node's defaults, days beyond a run).
	// Some seeds draw them small enough that offsets expire within the run.
	OffsetsRetention      time.Duration
	OffsetsRetentionCheck time.Duration
	// OffsetAdminInterval is the mean think time of the offsets administrator
	// (offsetadmin.go), 0 when the seed has none.
	OffsetAdminInterval time.Duration
	// CredentialInterval is the mean think time of the credentials client
	// (credentials.go), 0 when the seed has none; the nodes then have a SASL listener.
	// ReauthMax is their connections.max.reauth.ms (0: sessions never expire).
	CredentialInterval time.Duration
	ReauthMax          time.Duration
	// Authorizer switches the nodes' ACL authorization on (super user: the anonymous
	// principal of every other client); the credentials client then changes ACLs of its
	// users and tries accesses they decide.
	Authorizer bool
	// QuotaRate is the producer_byte_rate (bytes per second, per broker) the quota client
	// gives the producers' client ids, or with QuotaDefault the default client-id, at
	// the start of the run (0: no quota; quotas.go). QuotaRequestPercent, when not
	// zero, is a request_percentage they get too.
	QuotaRate           float64
	QuotaDefault        bool
	QuotaRequestPercent float64
	// ElectInterval is the mean time between two preferred leader elections an elector
	// client asks for (0: no elector; leaders.go).
	ElectInterval time.Duration
	// MoveInterval is the mean time between two requests of a mover client, which
	// reassigns data partitions (0: no mover; moves.go).
	MoveInterval time.Duration
	// MoveThrottle is the nodes' leader.replication.throttled.rate (bytes per second; 0:
	// none).
	MoveThrottle int64
	// TxnProducers are the transactional producers (txnproducer.go), TxnInterval their
	// mean think time between two transactions. ReadCommittedReaders has bit i set when
	// reader i fetches with read_committed, ReadCommittedGroups when the group members do.
	TxnProducers         []TxnProducerSpec
	TxnInterval          time.Duration
	ReadCommittedReaders uint64
	ReadCommittedGroups  bool
	// TxnStatePartitions and TxnStateRF are transaction.state.log.num.partitions and
	// transaction.state.log.replication.factor (0: the node's defaults).
	TxnStatePartitions int32
	TxnStateRF         int32
	// TxnIDExpiration is transactional.id.expiration.ms (0: the node's 7 days); some
	// seeds draw it short enough that idle ids expire within the run.
	TxnIDExpiration time.Duration
	// CTP is the consume-transform-produce workload (ctp.go).
	CTP CTPSpec
	// TxnVersion is the brokers' transaction.version and the version the transactional
	// producers speak (0: the node's default, in seeds without transactions).
	TxnVersion int16
	// NoMaxTimestampReads keeps readers from asking for the largest timestamp
	// (maxstamps.go), as they did not before it existed; only plant tests set it.
	NoMaxTimestampReads bool
}

// On reports whether the run has a data workload.
func (d *DataConfig) On() bool { return len(d.Topics) > 0 }

// DataTopic is one data topic.
type DataTopic struct {
	Name       string
	Partitions int32
	RF         int32
	MinISR     int32
	// RetentionMs and RetentionBytes are the topic's retention.ms and retention.bytes
	// (0: not set, the node's defaults).
	RetentionMs    int64
	RetentionBytes int64
	// Compact sets cleanup.policy=compact: the cleaner keeps the latest record of each
	// key, retention removes nothing, and DeleteRecords is refused (POLICY_VIOLATION).
	// Records take their keys from Keys of them (compaction.go); DirtyRatio and
	// DeleteRetentionMs are min.cleanable.dirty.ratio and delete.retention.ms.
	Compact           bool
	Keys              int
	DirtyRatio        float64
	DeleteRetentionMs int64
	// MinLagMs and MaxLagMs are min.compaction.lag.ms and max.compaction.lag.ms (0: not
	// set).
	MinLagMs, MaxLagMs int64
	// LogAppendTime sets message.timestamp.type=LogAppendTime (timestamps.go).
	LogAppendTime bool
	// SegmentBytes and SegmentMs are the topic's segment.bytes and segment.ms (0: not
	// set, the node's log.segment.bytes and log.roll.ms; segments.go).
	SegmentBytes, SegmentMs int64
	// SegmentJitterMs and SegmentIndexBytes are segment.jitter.ms and
	// segment.index.bytes (0: not set).
	SegmentJitterMs, SegmentIndexBytes int64
	// CompressionType is the topic's compression.type ("": not set; compression.go).
	CompressionType string
	// TimestampBoundMs is the topic's message.timestamp.before.max.ms and
	// after.max.ms (0: not set; timestamps.go).
	TimestampBoundMs int64
}

// ProducerSpec is one producer's behaviour.
type ProducerSpec struct {
	Acks       int16 // 0, 1 or -1
	Idempotent bool  // only with acks -1, as Kafka requires
	// InFlightMax is how many batches of one partition may be in flight at once (at most
	// five for an idempotent producer, Kafka's bound).
	InFlightMax int
	// RecordsMax bounds the records of one batch.
	RecordsMax int
	Codec      record.Codec
	// ValueBytesMax bounds the padding each record carries beside its value (0: none):
	// bigger records and batches (wide.go).
	ValueBytesMax int
}

// GroupSpec is one consumer group.
type GroupSpec struct {
	Name    string
	Members int
	// Assignor is "range" or "roundrobin", computed by the group's leader.
	Assignor string
	// Static gives members a group.instance.id (KIP-345).
	Static bool
	// LeavePPM is the chance per processed poll that a member leaves the group for a
	// while (LeaveGroup, then a new join).
	LeavePPM int64
	Topics   []string
	// StartDelay is when the members start (wide.go): a group that starts once every
	// broker registered gets an offsets topic with three replicas, whose coordinators
	// can fail over.
	StartDelay time.Duration
	// Idle members join and heartbeat, and do nothing else: they fetch nothing, commit
	// nothing and do not watch for new partitions. Their group keeps whatever was
	// committed for it before they joined for as long as they stay (KIP-211).
	Idle bool
	// SessionTimeout and HeartbeatInterval are the members' session.timeout.ms and
	// heartbeat.interval.ms (0: 6 s and 2 s). Longer ones let a member stay in a group
	// for days of virtual time at little cost.
	SessionTimeout, HeartbeatInterval time.Duration
}

// drawData draws the data workload of a seed. Brokers bounds replication factors.
func drawData(seed uint64, brokers int) DataConfig {
	rng := Stream(seed, streamDataConfig, 0)
	d := DataConfig{
		OpInterval:        time.Duration(20+rng.IntN(280)) * time.Millisecond,
		FetchWaitMax:      time.Duration(20+rng.IntN(480)) * time.Millisecond,
		OffsetsPartitions: int32(1 + rng.IntN(3)),
		Readers:           1 + rng.IntN(3),
		PartitionsMax:     4,
		FlushAsync:        false,
	}
	for i := range 1 + rng.IntN(2) {
		rf := int32(1 + rng.IntN(min(brokers, 5)))
		minISR := rf
		if rng.IntN(2) == 0 {
			// Half of the topics need every replica in sync: a replica down leaves the
			// partition unable to commit, and a new leader unable to serve reads, for long.
			minISR = int32(1 + rng.IntN(int(rf)))
		}
		d.Topics = append(d.Topics, DataTopic{
			Name:       fmt.Sprintf("d%d", i),
			Partitions: int32(1 + rng.IntN(4)),
			RF:         rf,
			MinISR:     minISR,
		})
	}
	for range 1 + rng.IntN(3) {
		d.Producers = append(d.Producers, drawProducer(rng))
	}
	if rng.IntN(2) == 0 {
		g := GroupSpec{
			Name:     "g0",
			Members:  1 + rng.IntN(3),
			Assignor: []string{"range", "roundrobin"}[rng.IntN(2)],
			Static:   rng.IntN(3) == 0,
			LeavePPM: []int64{0, 5_000, 30_000}[rng.IntN(3)],
		}
		for _, t := range d.Topics {
			g.Topics = append(g.Topics, t.Name)
		}
		d.Groups = append(d.Groups, g)
		if rng.IntN(2) == 0 {
			d.GrowInterval = time.Duration(4+rng.IntN(12)) * time.Second
		}
		if rng.IntN(3) != 0 {
			// Kafka's offsets.topic.replication.factor, up to the brokers: group records
			// then wait for followers (otherwise the topic gets as many replicas as
			// brokers are live when the first group looks for its coordinator, often one).
			d.OffsetsRF = int32(min(brokers, 3))
		}
	}
	return d
}

func drawProducer(rng *rand.Rand) ProducerSpec {
	p := ProducerSpec{
		Acks:        []int16{-1, -1, -1, 1, 0}[rng.IntN(5)],
		InFlightMax: 1 + rng.IntN(5),
		RecordsMax:  1 + rng.IntN(3),
		Codec:       []record.Codec{record.CodecNone, record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}[rng.IntN(6)],
	}
	if p.Acks == -1 {
		p.Idempotent = rng.IntN(2) == 0
	}
	return p
}

// String renders the data workload for the configuration block.
func (d *DataConfig) String() string {
	if !d.On() {
		return "data: none\n"
	}
	var b strings.Builder
	b.WriteString("data: topics")
	for _, t := range d.Topics {
		fmt.Fprintf(&b, " %s(partitions=%d rf=%d min.insync=%d", t.Name, t.Partitions, t.RF, t.MinISR)
		if t.RetentionMs > 0 {
			fmt.Fprintf(&b, " retention.ms=%d", t.RetentionMs)
		}
		if t.RetentionBytes > 0 {
			fmt.Fprintf(&b, " retention.bytes=%d", t.RetentionBytes)
		}
		if t.Compact {
			b.WriteString(" cleanup.policy=compact" + t.compactionString())
		}
		if t.LogAppendTime {
			b.WriteString(" message.timestamp.type=LogAppendTime")
		}
		b.WriteString(t.segmentsString())
		if t.CompressionType != "" {
			b.WriteString(" compression.type=" + t.CompressionType)
		}
		if t.TimestampBoundMs > 0 {
			fmt.Fprintf(&b, " message.timestamp.before/after.max.ms=%d", t.TimestampBoundMs)
		}
		b.WriteString(")")
	}
	flush := "sync"
	if d.FlushAsync {
		flush = "async (acknowledged writes may be lost to a correlated power loss)"
	}
	fmt.Fprintf(&b, "; log.flush=%s; an op every ~%v; fetch wait <= %v; offsets partitions %d", flush, d.OpInterval, d.FetchWaitMax, d.OffsetsPartitions)
	if d.OffsetsRF > 0 {
		fmt.Fprintf(&b, " rf=%d", d.OffsetsRF)
	}
	b.WriteString("\n")
	b.WriteString("  producers:")
	for i, p := range d.Producers {
		kind := "plain"
		if p.Idempotent {
			kind = "idempotent"
		}
		fmt.Fprintf(&b, " #%d acks=%d %s in-flight<=%d records<=%d %s", i+1, p.Acks, kind, p.InFlightMax, p.RecordsMax, p.Codec)
		if p.ValueBytesMax > 0 {
			fmt.Fprintf(&b, " padding<=%dB", p.ValueBytesMax)
		}
		b.WriteString(";")
	}
	fmt.Fprintf(&b, " readers: %d", d.Readers)
	if d.SessionReaders > 0 {
		fmt.Fprintf(&b, " (%d with fetch sessions of at most %d partitions", d.SessionReaders, d.SessionPartitions)
		if d.SessionNames {
			b.WriteString(", by topic name")
		}
		if d.FetchSessionSlots > 0 {
			fmt.Fprintf(&b, "; %d session slots per broker", d.FetchSessionSlots)
		}
		b.WriteString(")")
	}
	if d.DeletePPM > 0 {
		fmt.Fprintf(&b, ", DeleteRecords in %s of their operations", ppm(d.DeletePPM))
	}
	b.WriteString("\n")
	for _, g := range d.Groups {
		static := "dynamic"
		if g.Static {
			static = "static"
		}
		fmt.Fprintf(&b, "  group %s: %d %s members, %s assignor, leave %s per poll, topics %v", g.Name, g.Members, static, g.Assignor, ppm(g.LeavePPM), g.Topics)
		if g.Idle {
			b.WriteString(", idle (heartbeats only)")
		}
		if g.SessionTimeout > 0 || g.HeartbeatInterval > 0 {
			fmt.Fprintf(&b, ", session %v, heartbeat every %v", g.sessionTimeout(), g.heartbeatInterval())
		}
		b.WriteString("\n")
	}
	if d.ElectInterval > 0 {
		fmt.Fprintf(&b, "  an elector asks for preferred leaders every ~%v\n", d.ElectInterval)
	}
	if d.MoveInterval > 0 {
		fmt.Fprintf(&b, "  a mover reassigns partitions every ~%v\n", d.MoveInterval)
	}
	if d.MoveThrottle > 0 {
		fmt.Fprintf(&b, "  leaders send replicas being added at most %d B/s\n", d.MoveThrottle)
	}
	if d.GrowInterval > 0 {
		fmt.Fprintf(&b, "  partitions grow every ~%v up to %d\n", d.GrowInterval, d.PartitionsMax)
	}
	b.WriteString(d.capString())
	b.WriteString(d.txnString())
	b.WriteString(d.ctpString())
	if d.OffsetsRetention > 0 {
		fmt.Fprintf(&b, "  committed offsets expire %v after their group emptied (or their commit), checked every %v\n", d.OffsetsRetention, d.OffsetsRetentionCheck)
	}
	if d.OffsetAdminInterval > 0 {
		fmt.Fprintf(&b, "  an offsets administrator commits to group %s, deletes and reads offsets every ~%v\n", adminGroup, d.OffsetAdminInterval)
	}
	if d.CredentialInterval > 0 {
		fmt.Fprintf(&b, "  a credentials client sets and removes SCRAM credentials and authenticates every ~%v (sessions last %v; 0: forever)\n", d.CredentialInterval, d.ReauthMax)
	}
	if d.Authorizer {
		b.WriteString("  the nodes authorize with ACLs; the credentials client changes its users' ACLs and tries accesses\n")
	}
	if d.QuotaRate > 0 {
		who := "the producers' client ids"
		if d.QuotaDefault {
			who = "the default client-id"
		}
		fmt.Fprintf(&b, "  %s get a producer_byte_rate of %.0f B/s", who, d.QuotaRate)
		if d.QuotaRequestPercent > 0 {
			fmt.Fprintf(&b, " and a request_percentage of %g", d.QuotaRequestPercent)
		}
		b.WriteString(" until the liveness phase\n")
	}
	return b.String()
}

// dataTopic returns the data topic named name.
func (d *DataConfig) topic(name string) (DataTopic, bool) {
	for _, t := range d.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return DataTopic{}, false
}
