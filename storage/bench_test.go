package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/compact"
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

// BenchmarkClean measures a compaction pass over a log of keyed records of which one in
// ten is the latest of its key (each key written ten times), against copying the same
// segment files (read, write, fsync). The log is 64 MiB, or SEEDLOG_BENCH_CLEAN_MB; its
// segments are 128 MiB at most. Each iteration cleans a fresh copy; only the pass is
// timed. map-bytes is what the pass's offset map grew to (within
// log.cleaner.dedupe.buffer.size), the bulk of its memory; B/op is all it allocated.
func BenchmarkClean(b *testing.B) {
	logBytes := int64(64 << 20)
	if mb, err := strconv.Atoi(os.Getenv("SEEDLOG_BENCH_CLEAN_MB")); err == nil && mb > 0 {
		logBytes = int64(mb) << 20
	}
	cfg := LogConfig{SegmentBytesMax: 128 << 20}
	template := b.TempDir()
	l := mustOpen(b, NewOSFS(template), "p0", cfg)
	const perBatch, valueBytes = 100, 100
	records := logBytes / (valueBytes + 30)
	keys := records / 10
	value := make([]byte, valueBytes)
	recs := make([]kmsg.Record, perBatch)
	for n := int64(0); n < records; n += perBatch {
		for i := range recs {
			recs[i] = kmsg.Record{Key: fmt.Appendf(nil, "key-%09d", (n+int64(i))%keys), Value: value}
		}
		batch, err := record.Build(record.Spec{BaseOffset: l.EndOffset(), FirstTimestamp: 1_700_000_000_000}.NoProducer(), recs)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
	}
	// A last small segment to be the active one, never cleaned.
	l.cfg.SegmentBytesMax = 1
	batch, _ := record.Build(record.Spec{BaseOffset: l.EndOffset()}.NoProducer(), recs[:1])
	if err := errors.Join(l.Append(batch), l.Sync(), l.Close()); err != nil {
		b.Fatal(err)
	}
	var size int64
	entries, _ := os.ReadDir(filepath.Join(template, "p0"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), LogFileSuffix) {
			size += info.Size()
		}
	}
	fresh := func(b *testing.B) string {
		b.StopTimer()
		defer b.StartTimer()
		dir := b.TempDir()
		if err := os.CopyFS(filepath.Join(dir, "p0"), os.DirFS(filepath.Join(template, "p0"))); err != nil {
			b.Fatal(err)
		}
		return dir
	}
	b.Run("clean", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		var rep CleanReport
		var mapBytes int
		for range b.N {
			l := mustOpen(b, NewOSFS(fresh(b)), "p0", cfg)
			var err error
			if rep, err = l.Clean(l.EndOffset(), compact.Policy{NowMs: 1_700_000_000_000, DirtyRatioMin: 0.5, LagMaxMs: -1}); err != nil || !rep.Cleaned {
				b.Fatalf("clean: %+v %v", rep, err)
			}
			b.StopTimer()
			mapBytes = l.offsetMap.SizeBytes()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(mapBytes), "map-bytes")
		b.ReportMetric(float64(rep.BytesOut)/float64(rep.BytesIn), "out/in")
	})
	// The same pass in steps of log.cleaner.io.buffer.size's default, as a node runs it:
	// the longest step is how long the node's other disk work can wait behind the
	// cleaner.
	b.Run("steps", func(b *testing.B) {
		b.SetBytes(size)
		var longest time.Duration
		steps := 0
		for range b.N {
			l := mustOpen(b, NewOSFS(fresh(b)), "p0", cfg)
			steps = 0
			for {
				start := time.Now()
				rep, err := l.CleanStep(l.EndOffset(), compact.Policy{NowMs: 1_700_000_000_000, DirtyRatioMin: 0.5, LagMaxMs: -1}, 512<<10)
				longest = max(longest, time.Since(start))
				steps++
				if err != nil {
					b.Fatalf("clean: %+v %v", rep, err)
				}
				if !rep.More {
					break
				}
			}
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(longest.Microseconds())/1000, "max-step-ms")
		b.ReportMetric(float64(steps), "steps")
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			dir := fresh(b)
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), LogFileSuffix) {
					continue
				}
				data, err := os.ReadFile(filepath.Join(dir, "p0", e.Name()))
				if err != nil {
					b.Fatal(err)
				}
				f, err := os.Create(filepath.Join(dir, "p0", e.Name()+".copy"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := errors.Join(f.Sync(), f.Close()); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
