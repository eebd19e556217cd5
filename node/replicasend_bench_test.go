package node

import (
	"bufio"
	"encoding/binary"
	"io"
	"testing"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// countingReader counts the bytes Read returns: bytes the process copies out of the
// kernel.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkReplicaFetchSend serves a follower's fetch of 1 MiB and appends it on the
// follower, through the node's pieces on both sides of a loopback TCP connection: the
// leader's disk read (plain bytes: a replica fetch takes no spans), the peer message
// encoded by core.EncodePeerReplicaHead (its head; the records are written from the
// read's buffer), written as peerLink.serve frames it; the frame read
// by readBody as readPeerFrames reads it, decoded, each batch checked (record.Check, as
// checkFetched does) and appended to the follower's log. It reports, per record byte
// replicated, the bytes each copy point passes: read-B/B (pread), encode-B/B (into the
// message), write-B/B (into the kernel, from a counting writer), recv-B/B (out of the
// kernel, from a counting reader), append-B/B (write), and their sum copied-B/B. Not
// counted there: readBody's allocation, one buffer of the frame's size (B/op shows it).
func BenchmarkReplicaFetchSend(b *testing.B) {
	f := newFetchSendBench(b)
	fsys := storage.NewOSFS(b.TempDir())
	follower, _, err := diskexec.Open(fsys, diskexec.Config{Log: storage.LogConfig{SegmentBytesMax: 1 << 20}})
	must(b, err)
	b.Cleanup(func() { follower.Close() })

	out, in := tcpPair(b)
	cw := &countingWriter{w: out}
	bw := bufio.NewWriterSize(cw, connWriteBufferBytes)
	cr := &countingReader{r: in}
	br := bufio.NewReaderSize(cr, peerReadBufferBytes)

	// The follower: reads a frame, decodes it, checks and appends its batches.
	type appended struct {
		n   int64
		err error
	}
	done := make(chan appended)
	logs := make(chan disk.LogID, 1) // sent before the first frame of a pass
	go func() {
		var size [4]byte
		var opID disk.OpID
		var log disk.LogID
		var leo int64
		for {
			if _, err := io.ReadFull(br, size[:]); err != nil {
				return
			}
			frame, err := readBody(br, int(binary.BigEndian.Uint32(size[:])), peerFrameWholeBytes, nil, nil)
			if err != nil {
				done <- appended{err: err}
				return
			}
			if _, err := core.DecodePeer(frame); err != nil {
				done <- appended{err: err}
				return
			}
			// DecodePeer keeps the message to itself; decode its replica message the
			// same way (after the kind byte) to reach the records.
			m, err := partition.DecodeMessage(&enc.Reader{B: frame[1:]})
			if err != nil {
				done <- appended{err: err}
				return
			}
			recs := m.(*partition.FetchAnswer).Records
			for pos := 0; pos < len(recs); {
				h, err := record.Check(recs[pos:])
				if err != nil {
					done <- appended{err: err}
					return
				}
				pos += h.Size()
			}
			select {
			case log = <-logs: // a new pass: the leader fetches from 0 again
				leo = 0
			default:
			}
			opID++
			d := follower.Do(disk.Op{ID: opID, Kind: disk.Append, Log: log, Offset: leo, Data: recs})
			if d.Err != nil {
				done <- appended{err: d.Err}
				return
			}
			leo = lastBatchEnd(recs)
			done <- appended{n: int64(len(recs))}
		}
	}()
	defer out.Close()

	var read, encoded, appendedBytes int64
	var next int64 // the leader's fetch offset; back to 0, on a fresh follower log, at the end
	pass := 0
	newPass := func() {
		pass++
		log := disk.PartitionLog("follower", int32(pass))
		if d := follower.Do(disk.Op{ID: disk.OpID(1 << 40), Kind: disk.CreateLog, Log: log}); d.Err != nil {
			b.Fatal(d.Err)
		}
		logs <- log
		next = 0
	}
	newPass()
	b.ResetTimer()
	for b.Loop() {
		d := f.exec.Do(disk.Op{ID: 1000, Kind: disk.Read, Log: f.log, Offset: next, MaxOffset: f.end, MaxBytes: fetchSendBytes})
		if d.Err != nil || len(d.Data) == 0 {
			b.Fatalf("read at %d: %d bytes, %v", next, len(d.Data), d.Err)
		}
		read += int64(len(d.Data))
		ans := &partition.FetchAnswer{FetchOffset: next, HighWatermark: f.end, LogEndOffset: f.end, Records: d.Data, InISR: true}
		head, records := core.EncodePeerReplicaHead(ans)
		encoded += int64(len(d.Data) - len(records)) // record bytes copied into the head
		// As peerLink.serve writes a frame (without a sealer).
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(head)+len(records)))
		bw.Write(hdr[:])
		bw.Write(head)
		bw.Write(records)
		must(b, bw.Flush())
		a := <-done
		if a.err != nil {
			b.Fatal(a.err)
		}
		appendedBytes += a.n
		next = lastBatchEnd(d.Data)
		if next >= f.end {
			b.StopTimer()
			newPass()
			b.StartTimer()
		}
	}
	b.StopTimer()
	if appendedBytes != read {
		b.Fatalf("%d bytes appended of %d read", appendedBytes, read)
	}
	per := func(n int64) float64 { return float64(n) / float64(read) }
	b.SetBytes(read / int64(b.N))
	b.ReportMetric(per(read), "read-B/B")
	b.ReportMetric(per(encoded), "encode-B/B")
	b.ReportMetric(per(cw.n), "write-B/B")
	b.ReportMetric(per(cr.n), "recv-B/B")
	b.ReportMetric(per(appendedBytes), "append-B/B")
	b.ReportMetric(per(read+encoded+cw.n+cr.n+appendedBytes), "copied-B/B")
}

// lastBatchEnd is the offset after the last batch of b, whole batches that passed Check.
func lastBatchEnd(b []byte) int64 {
	var end int64
	for pos := 0; pos < len(b); {
		h, err := record.ParseHeader(b[pos:])
		if err != nil {
			panic(err)
		}
		end = h.NextOffset()
		pos += h.Size()
	}
	return end
}
