package node

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// countingWriter counts the bytes passed to Write: bytes the process copies into the
// kernel.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// fetchSendBench is a partition log of 8 MiB in 1 MiB segments, read by 1 MiB consumer
// fetches from offset 0 and answered at Fetch v12 on a loopback TCP connection whose
// other end discards what arrives.
type fetchSendBench struct {
	exec  *diskexec.Executor
	files *spanFiles
	log   disk.LogID
	end   int64
	out   *net.TCPConn
}

const fetchSendBytes = 1 << 20

func newFetchSendBench(b *testing.B) *fetchSendBench {
	files := newSpanFiles(time.Now, SpanFilesMaxDefault)
	fsys := spanFS{FS: storage.NewOSFS(b.TempDir()), files: files}
	exec, _, err := diskexec.Open(fsys, diskexec.Config{Log: storage.LogConfig{SegmentBytesMax: 1 << 20}, Files: files})
	must(b, err)
	f := &fetchSendBench{exec: exec, files: files, log: disk.PartitionLog("bench", 0)}
	b.Cleanup(func() { exec.Close(); files.close() })
	if d := exec.Do(disk.Op{ID: 1, Kind: disk.CreateLog, Log: f.log}); d.Err != nil {
		b.Fatal(d.Err)
	}
	value := make([]byte, 1000)
	for i := range value {
		value[i] = byte(i * 7)
	}
	values := make([][]byte, 16)
	for i := range values {
		values[i] = value
	}
	for id := disk.OpID(2); f.end < 8<<20/1024; id++ {
		batch, err := record.BuildValues(record.Spec{BaseOffset: f.end, FirstTimestamp: 1}.NoProducer(), values...)
		must(b, err)
		if d := exec.Do(disk.Op{ID: id, Kind: disk.Append, Log: f.log, Offset: f.end, Data: batch}); d.Err != nil {
			b.Fatal(d.Err)
		}
		f.end += int64(len(values))
	}
	s, c := tcpPair(b)
	go io.Copy(io.Discard, c)
	f.out = s
	return f
}

// read is a consumer fetch's disk read.
func (f *fetchSendBench) read(b *testing.B, spans bool) disk.Done {
	d := f.exec.Do(disk.Op{ID: 1000, Kind: disk.Read, Log: f.log, Offset: 0, MaxOffset: f.end, MaxBytes: fetchSendBytes, Spans: spans})
	if d.Err != nil {
		b.Fatal(d.Err)
	}
	return d
}

func fetchResponse() *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	p := kmsg.NewFetchResponseTopicPartition()
	p.HighWatermark, p.LastStableOffset = 8192, 8192
	resp.Topics = []kmsg.FetchResponseTopic{{Topic: "bench", Partitions: []kmsg.FetchResponseTopicPartition{p}}}
	return resp
}

// BenchmarkFetchSend serves a consumer fetch of 1 MiB from disk to a socket: the read
// that validates the batches, the frame, the send. It reports, per record byte served,
// the bytes the process copied: read into memory (the CRC check), into the frame
// (encoding), and through Write into the kernel; and the bytes sendfile sent without
// the process touching them.
//
//   - inline: the path before spans, which a sendfile-less shell would take: the read's
//     bytes in the response, framed by kmsg, written whole;
//   - spans-copied: spans written through memory (a TLS connection);
//   - spans-sendfile: spans sent with sendfile (a plain TCP connection).
func BenchmarkFetchSend(b *testing.B) {
	f := newFetchSendBench(b)
	report := func(b *testing.B, served, read, encoded, written, sent int64) {
		per := func(n int64) float64 { return float64(n) / float64(served) }
		b.SetBytes(served / int64(b.N))
		b.ReportMetric(per(read), "read-B/B")
		b.ReportMetric(per(encoded), "encode-B/B")
		b.ReportMetric(per(written), "write-B/B")
		b.ReportMetric(per(sent), "sendfile-B/B")
	}
	b.Run("inline", func(b *testing.B) {
		cw := &countingWriter{w: f.out}
		bw := bufio.NewWriterSize(cw, connWriteBufferBytes)
		var buf []byte
		var served int64
		for b.Loop() {
			d := f.read(b, false)
			resp := fetchResponse()
			resp.Topics[0].Partitions[0].RecordBatches = d.Data
			buf = wire.AppendResponse(buf[:0], 1, resp)
			if _, err := bw.Write(buf); err != nil {
				b.Fatal(err)
			}
			must(b, bw.Flush())
			served += int64(len(d.Data))
		}
		report(b, served, served, served, cw.n, 0)
	})
	for _, mode := range []string{"spans-copied", "spans-sendfile"} {
		b.Run(mode, func(b *testing.B) {
			cw := &countingWriter{w: f.out}
			fw := &frameWriter{bw: bufio.NewWriterSize(cw, connWriteBufferBytes), files: f.files}
			if mode == "spans-sendfile" {
				if !canSendfile {
					b.Skip("no sendfile on this system")
				}
				fw.tcp = f.out
			}
			var buf []byte
			var cuts []kafka.Cut
			var served int64
			for b.Loop() {
				d := f.read(b, true)
				a := &kafka.FetchAnswer{FetchResponse: fetchResponse(), Records: [][]disk.Span{d.Spans}}
				a.Topics[0].Partitions[0].RecordBatches = []byte{}
				buf, cuts = kafka.AppendFrame(buf[:0], 1, a)
				if _, err := fw.write(buf, cuts); err != nil {
					b.Fatal(err)
				}
				must(b, fw.flush())
				served += disk.SpansLen(d.Spans)
			}
			report(b, served, served, 0, cw.n, fw.sent)
		})
	}
}
