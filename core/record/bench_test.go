package record

import (
	"bytes"
	"testing"

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

// BenchmarkValidateProduce is the work a leader does per produced batch.
func BenchmarkValidateProduce(b *testing.B) {
	for _, codec := range allCodecs {
		batch, err := Build(Spec{Codec: codec}.NoProducer(), benchRecords())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(codec.String(), func(b *testing.B) {
			b.SetBytes(int64(len(benchRecords()) * 1024))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateProduce(batch, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(codec.String()+"/reused", func(b *testing.B) {
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
