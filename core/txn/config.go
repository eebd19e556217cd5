package txn

import (
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/plant"
)

// Log is the coordinator's __transaction_state partition, reached through the local
// leader replica.
type Log interface {
	// Append writes recs as one batch with acks=all semantics and calls done once: with
	// the base offset when every record is durable on the ISR (below the high watermark),
	// or with an error. done may run before Append returns. Wrap ErrNotLeader or
	// ErrTooLarge in the error when they apply: they decide the code clients see.
	Append(now int64, recs []KV, done func(baseOffset int64, err error))
	// Load reads every batch from the log start to the high watermark, calling batch for
	// each chunk of whole batches in order, then done(nil) or done(err). The coordinator
	// does not keep b after batch returns.
	Load(now int64, batch func(b []byte), done func(err error))
}

// KV is one record for the log. A nil Value is a tombstone. It is the group
// coordinator's type, so that one log type serves both kinds of coordinator.
type KV = group.KV

// Errors a Log may wrap to say why an append failed. Any other error reads as "the
// partition cannot take writes right now" (COORDINATOR_NOT_AVAILABLE, which clients retry).
// They are the group coordinator's, so that one log type serves both coordinators.
var (
	// ErrNotLeader: this broker no longer leads the partition (NOT_COORDINATOR).
	ErrNotLeader = group.ErrNotLeader
	// ErrTooLarge: the record does not fit in a batch (UNKNOWN_SERVER_ERROR, as Kafka
	// answers: the client cannot fix it by retrying).
	ErrTooLarge = group.ErrTooLarge
)

// Kafka's defaults, and seedlog's bounds.
const (
	DefaultMaxTimeout         = 15 * time.Minute       // transaction.max.timeout.ms
	DefaultAbortCheckInterval = 10 * time.Second       // transaction.abort.timed.out.transaction.cleanup.interval.ms
	DefaultMarkerRetry        = 100 * time.Millisecond // backoff before markers are sent again
	DefaultQueueWait          = time.Second            // the longest a request waits for its busy id
	DefaultTxnsMax            = 100000                 // transactional ids per coordinator
	DefaultIDExpiration       = 7 * 24 * time.Hour     // transactional.id.expiration.ms
	// PartitionsMax bounds the partitions of one transaction, in requests and in the
	// records decoded from the log.
	PartitionsMax = 100000
	// TxnIDBytesMax is the longest transactional id: Kafka's records store it as a
	// string with an int16 length.
	TxnIDBytesMax = 32767
	// TopicBytesMax is the longest topic name Kafka allows.
	TopicBytesMax = 249
)

// Config sets up one Coordinator. Zero durations and bounds take the defaults above.
type Config struct {
	Partition int32 // the __transaction_state partition this coordinator leads
	// CoordinatorEpoch is the leader epoch of that partition; markers carry it so that
	// partitions refuse markers from a coordinator that was replaced.
	CoordinatorEpoch int32

	MaxTimeout         time.Duration // the longest transaction timeout a producer may ask for
	AbortCheckInterval time.Duration // how often open transactions are checked for their timeout
	MarkerRetry        time.Duration // backoff before a marker round is sent again
	QueueWait          time.Duration // the longest a request waits for its id to be free
	// IDExpiration is how long an id with no transaction open or ending is kept after
	// its last change (expiry.go).
	IDExpiration time.Duration

	TxnsMax       int // transactional ids kept; InitProducerID for more gets COORDINATOR_NOT_AVAILABLE
	PartitionsMax int // partitions of one transaction (at most PartitionsMax)

	// NewProducerID hands out a fresh producer id (from the controller's blocks), or a
	// code. reply may run before NewProducerID returns, or later outside any input.
	NewProducerID func(reply func(id int64, code int16))
	// SendMarkers writes the markers of one ended transaction to the leaders of its
	// partitions and calls done once with a code per partition, in the order of
	// m.Partitions. done may run before SendMarkers returns, or later.
	SendMarkers func(now int64, m MarkerRequest, done func(codes []int16))

	Plants plant.Set
	// Events, when set, hears of each transaction's durable state changes and of the
	// coordinator's loading (the node notes them for people and the simulator's checkers).
	Events func(Event)
}

// DefaultConfig is Kafka's configuration for the coordinator of one partition; the
// node sets NewProducerID and SendMarkers.
func DefaultConfig(partition, coordinatorEpoch int32) Config {
	return Config{Partition: partition, CoordinatorEpoch: coordinatorEpoch}.withDefaults()
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.AbortCheckInterval <= 0 {
		cfg.AbortCheckInterval = DefaultAbortCheckInterval
	}
	if cfg.MarkerRetry <= 0 {
		cfg.MarkerRetry = DefaultMarkerRetry
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.IDExpiration < time.Millisecond {
		cfg.IDExpiration = DefaultIDExpiration
	}
	if cfg.TxnsMax <= 0 {
		cfg.TxnsMax = DefaultTxnsMax
	}
	if cfg.PartitionsMax <= 0 || cfg.PartitionsMax > PartitionsMax {
		cfg.PartitionsMax = PartitionsMax
	}
	return cfg
}

// TopicPartition names one partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// MarkerRequest is the markers of one ended transaction: a control batch with the
// producer's id and epoch, commit or abort, for each partition listed.
type MarkerRequest struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	Partitions       []TopicPartition
	// TransactionVersion is the client's transaction version (WriteTxnMarkers v2): 2
	// when the epoch was bumped by this end.
	TransactionVersion int8
}
