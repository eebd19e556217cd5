package partition

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/record"
)

// The broker's message.max.bytes caps the topic's max.message.bytes at produce time, for
// the batch and for its records once decompressed, even when the metadata (written by a
// controller with another ceiling) allows more.
func TestMessageBytesCeiling(t *testing.T) {
	c := newCluster(t, 1, 1, func(cfg *Config) { cfg.MessageBytesMax = 1000 })
	c.st.MessageBytesMax, c.st.PartitionEpoch = math.MaxInt32, c.st.PartitionEpoch+1
	c.update()
	big := string(bytes.Repeat([]byte("x"), 1200))
	if got := c.produce(1, batchOf(big), 1).one(t); got.Err != CodeMessageTooLarge {
		t.Fatalf("a %d-byte batch under a 1000-byte ceiling: %+v", len(batchOf(big)), got)
	}
	zipped, err := record.BuildValues(record.Spec{FirstTimestamp: 1000, PartitionLeaderEpoch: -1, Codec: record.CodecZstd}.NoProducer(),
		bytes.Repeat([]byte("y"), 5000))
	if err != nil {
		t.Fatal(err)
	}
	if len(zipped) >= 1000 {
		t.Fatalf("compressed batch of %d bytes", len(zipped))
	}
	if got := c.produce(1, zipped, 1).one(t); got.Err != CodeMessageTooLarge {
		t.Fatalf("a %d-byte batch decompressing to 5000 under a 1000-byte ceiling: %+v", len(zipped), got)
	}
	if got := c.produce(1, batchOf("small"), 1).one(t); got.Err != CodeNone {
		t.Fatalf("a small batch: %+v", got)
	}
	// Below the ceiling the topic's own limit rules.
	c.st.MessageBytesMax, c.st.PartitionEpoch = 80, c.st.PartitionEpoch+1
	c.update()
	if got := c.produce(1, batchOf(string(bytes.Repeat([]byte("z"), 100))), 1).one(t); got.Err != CodeMessageTooLarge {
		t.Fatalf("a batch above the topic's 80 bytes: %+v", got)
	}
}

// A fetch for offsets only reads nothing and still says where the log stands, or why it
// cannot be read.
func TestFetchOffsetsOnly(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	c.produce(1, batchOf("a", "b"), 1).one(t)
	c.settle()
	n := c.node(1)
	n.holdDisk = true
	got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 1 << 20, OffsetsOnly: true,
		MinBytes: 1, MaxWait: time.Second}).one(t)
	if got.Err != CodeNone || got.Records != nil || got.HighWatermark != 2 || got.LogStartOffset != 0 {
		t.Fatalf("offsets only: %+v", got)
	}
	if len(n.queued) != 0 {
		t.Fatalf("offsets only emitted %v", n.queued)
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: 7, OffsetsOnly: true}).one(t); got.Err != CodeUnknownLeaderEpoch {
		t.Fatalf("offsets only from a future epoch: %+v", got)
	}
}
