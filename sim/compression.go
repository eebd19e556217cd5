package sim

import (
	"github.com/seedlog/seedlog/core/record"
)

// Topic compression: some data topics set compression.type to a codec, and their leaders
// must store every batch compressed with it, whatever the producer sent. The check
// (compression): every batch a fetch of such a topic returns carries that codec, except
// batches compaction emptied, which hold no records to compress.

// streamCompression is the stream of the compression.type draws.
const streamCompression = "compression-type"

// drawCompressionTypes gives a quarter of the data topics a compression.type.
func drawCompressionTypes(seed uint64, c *Config) {
	rng := Stream(seed, streamCompression, 0)
	for i := range c.Data.Topics {
		if rng.IntN(4) == 0 {
			c.Data.Topics[i].CompressionType = []string{"uncompressed", "gzip", "snappy", "lz4", "zstd"}[rng.IntN(5)]
		}
	}
}

// checkCompression checks the batches a fetch of tp returned against its topic's
// compression.type.
func (w *World) checkCompression(tp TopicPartition, batches []byte) {
	t, _ := w.cfg.Data.topic(tp.Topic)
	want, ok := record.ParseCodec(t.CompressionType)
	if !ok {
		return
	}
	_, _ = record.Split(batches, func(h record.Header, _ []byte) error {
		switch {
		case w.failure != nil || h.RecordCount == 0 || h.IsControl():
			// Transaction markers are written by the coordinator's round, never
			// compressed, as in Kafka.
		case h.Codec() != want:
			w.fail("compression", -1, "%s: the batch at offset %d is compressed with %s, but the topic's compression.type is %s",
				tp, h.BaseOffset, h.Codec(), t.CompressionType)
		default:
			w.cov.Inc("fetch:compression-type-checked")
		}
		return nil
	})
}
