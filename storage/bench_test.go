package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	benchRecordBytes = 1 << 10
	benchBatchBytes  = 16 << 10
	benchSyncBytes   = 1 << 20
)

// benchBatch builds one batch of 1 KiB records, about 16 KiB in all.
func benchBatch(b *testing.B) []byte {
	recs := make([]kmsg.Record, benchBatchBytes/benchRecordBytes)
	for i := range recs {
		v := make([]byte, benchRecordBytes-16) // leave room for the record framing
		for j := range v {
			v[j] = byte(i*31 + j)
		}
		recs[i] = kmsg.Record{Value: v}
	}
	batch, err := record.Build(record.Spec{FirstTimestamp: 1_700_000_000_000}.NoProducer(), recs)
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

// BenchmarkAppendSync measures the log appending 16 KiB batches with a Sync every MiB,
// against the same bytes written to a plain file with a Sync every MiB.
func BenchmarkAppendSync(b *testing.B) {
	batch := benchBatch(b)
	records := int64(benchBatchBytes / benchRecordBytes)
	syncEvery := int64(benchSyncBytes / len(batch))

	b.Run("log", func(b *testing.B) {
		l := mustOpen(b, NewOSFS(b.TempDir()), "p0", LogConfig{})
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range int64(b.N) {
			record.SetBaseOffset(batch, i*records)
			if err := l.Append(batch); err != nil {
				b.Fatal(err)
			}
			if (i+1)%syncEvery == 0 {
				if err := l.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	})

	b.Run("baseline-file", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range int64(b.N) {
			record.SetBaseOffset(batch, i*records)
			if _, err := f.Write(batch); err != nil {
				b.Fatal(err)
			}
			if (i+1)%syncEvery == 0 {
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	})
}
