package record

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchRecords are about 16 KiB of records carrying 1 KiB JSON-ish values.
func benchRecords() []kmsg.Record {
	values := jsonValues(15, 1024, 12)
	recs := make([]kmsg.Record, len(values))
	for i, v := range values {
		recs[i] = kmsg.Record{Key: []byte("user-" + string(rune('a'+i))), Value: v}
	}
	return recs
}

// benchBody is the encoded records of benchRecords, what a codec compresses.
func benchBody(b *testing.B) []byte {
	batch, err := Build(Spec{}.NoProducer(), benchRecords())
	if err != nil {
		b.Fatal(err)
	}
	return batch[HeaderSize:]
}

func BenchmarkCheck16K(b *testing.B) {
	batch, err := Build(Spec{}.NoProducer(), benchRecords())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, err := Check(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	body := benchBody(b)
	for _, codec := range allCodecs[1:] {
		b.Run(codec.String(), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compress(codec, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(codec.String()+"/reused", func(b *testing.B) {
			var c Coder
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Compress(codec, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	body := benchBody(b)
	for _, codec := range allCodecs[1:] {
		z, err := Compress(codec, body)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(codec.String(), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ReportMetric(float64(len(z))/float64(len(body)), "ratio")
			for b.Loop() {
				if _, err := Decompress(codec, z, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(codec.String()+"/reused", func(b *testing.B) {
			var c Coder
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decompress(codec, z, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateProduce is the work a leader does per produced batch. snappy is a raw
// block (what franz-go and librdkafka write), snappy-xerial the framing of Java's client
// in its 32 KiB chunks.
func BenchmarkValidateProduce(b *testing.B) {
	batches := map[string][]byte{}
	for _, codec := range allCodecs {
		batch, err := Build(Spec{Codec: codec}.NoProducer(), benchRecords())
		if err != nil {
			b.Fatal(err)
		}
		batches[codec.String()] = batch
	}
	body := benchBody(b)
	var chunks [][]byte
	for rest := body; len(rest) > 0; rest = rest[min(32<<10, len(rest)):] {
		chunks = append(chunks, snappy.Encode(nil, rest[:min(32<<10, len(rest))]))
	}
	h := plainHeader(int32(len(benchRecords())))
	h.attributes = int16(CodecSnappy)
	batches["snappy-xerial"] = rawBatch(h, xerialFrame(chunks...))
	for _, name := range []string{"none", "gzip", "snappy", "snappy-xerial", "lz4", "zstd"} {
		batch := batches[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(benchRecords()) * 1024))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateProduce(batch, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/reused", func(b *testing.B) {
			var c Coder
			b.SetBytes(int64(len(benchRecords()) * 1024))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.ValidateProduce(batch, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIter(b *testing.B) {
	batch, err := Build(Spec{}.NoProducer(), benchRecords())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		it, err := NewIter(batch, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for it.Next() {
			n += len(it.Record().Value)
		}
		if it.Err() != nil || n == 0 {
			b.Fatal(it.Err())
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	recs := benchRecords()
	b.SetBytes(int64(len(bytes.Join(jsonValues(15, 1024, 12), nil))))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(Spec{}.NoProducer(), recs); err != nil {
			b.Fatal(err)
		}
	}
}
