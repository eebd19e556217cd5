package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// spanWorld is a spanFiles over a directory and a clock the test moves.
type spanWorld struct {
	t     *testing.T
	dir   string
	now   time.Time
	files *spanFiles
	fsys  spanFS
}

func newSpanWorld(t *testing.T) *spanWorld {
	w := &spanWorld{t: t, dir: t.TempDir(), now: time.Unix(1000, 0)}
	w.files = newSpanFiles(func() time.Time { return w.now }, SpanFilesMaxDefault)
	w.fsys = spanFS{FS: storage.NewOSFS(w.dir), files: w.files}
	t.Cleanup(w.files.close)
	return w
}

// segment creates a file holding b, as a log's segment, and holds it for spans.
func (w *spanWorld) segment(name string, b []byte) (storage.File, disk.FileID) {
	w.t.Helper()
	f, err := w.fsys.Create(name)
	must(w.t, err)
	_, err = f.WriteAt(b, 0)
	must(w.t, err)
	id, err := w.files.Hold(f)
	must(w.t, err)
	return f, id
}

// send writes frame with its cuts on a fresh connection and returns what arrived.
func (w *spanWorld) send(frame []byte, cuts []kafka.Cut, viaTCP bool) (got []byte, fw *frameWriter, err error) {
	w.t.Helper()
	s, c := tcpPair(w.t)
	var out net.Conn = s
	if !viaTCP {
		out = struct{ net.Conn }{s} // not a *net.TCPConn: spans are copied
	}
	fw = newFrameWriter(out, w.files)
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(c)
		done <- b
	}()
	_, err = fw.write(frame, cuts)
	if err == nil {
		err = fw.flush()
	}
	s.Close()
	return <-done, fw, err
}

var spanBytes = bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB

// A frame of own bytes and file spans arrives as the spans' bytes between the frame's,
// sent with sendfile (no span byte through the process, but a frame's very last byte),
// or copied when the connection is not a plain TCP socket.
func TestFrameWriterSendsSpansFromFiles(t *testing.T) {
	w := newSpanWorld(t)
	_, id := w.segment("a.log", spanBytes)
	frame := []byte("headmiddletail")
	cuts := []kafka.Cut{
		{At: 4, Span: disk.Span{File: id, Pos: 100, Len: 30000}},
		{At: 4, Span: disk.Span{Data: []byte("inline"), Len: 6}},
		{At: 10, Span: disk.Span{File: id, Pos: 5, Len: 7}},
	}
	want := slices.Concat([]byte("head"), spanBytes[100:30100], []byte("inline"), []byte("middle"), spanBytes[5:12], []byte("tail"))
	for _, viaTCP := range []bool{true, false} {
		got, fw, err := w.send(frame, cuts, viaTCP)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("tcp %v: %d bytes (%v), want %d", viaTCP, len(got), err, len(want))
		}
		wantSent, wantCopied := int64(30007), int64(6)
		if !viaTCP || !canSendfile {
			wantSent, wantCopied = 0, 30013
		}
		if fw.sent != wantSent || fw.copied != wantCopied {
			t.Fatalf("tcp %v: %d bytes sent, %d copied; want %d and %d", viaTCP, fw.sent, fw.copied, wantSent, wantCopied)
		}
	}
	// A span that ends the frame: its last byte is read before the last check.
	got, fw, err := w.send(frame[:4], cuts[:1], true)
	if err != nil || !bytes.Equal(got, want[:30004]) || canSendfile && fw.copied != 1 {
		t.Fatalf("span at the end: %d bytes (%v), %d copied", len(got), err, fw.copied)
	}
}

// A segment deleted (retention) or replaced (compaction) after its read still sends
// the bytes the read saw: spanFiles holds a descriptor of its own.
func TestFrameWriterSpansOutliveDeletionAndReplacement(t *testing.T) {
	w := newSpanWorld(t)
	f, id := w.segment("old.log", spanBytes)
	must(t, f.Close())
	must(t, os.Remove(filepath.Join(w.dir, "old.log")))
	g, id2 := w.segment("kept.log", spanBytes)
	must(t, os.WriteFile(filepath.Join(w.dir, "new.log"), bytes.Repeat([]byte("x"), len(spanBytes)), 0o644))
	must(t, os.Rename(filepath.Join(w.dir, "new.log"), filepath.Join(w.dir, "kept.log")))
	must(t, g.Close())
	cuts := []kafka.Cut{{At: 1, Span: disk.Span{File: id, Pos: 0, Len: 1000}}, {At: 1, Span: disk.Span{File: id2, Pos: 10, Len: 1000}}}
	got, _, err := w.send([]byte("<>"), cuts, true)
	if want := slices.Concat([]byte("<"), spanBytes[:1000], spanBytes[10:1010], []byte(">")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%d bytes (%v), want %d", len(got), err, len(want))
	}
}

// A span a cut reached into since its read is not sent: the writer fails with
// errSpanLost before the frame is whole, whether the cut came before the send or was
// under way when it ended; a cut past the span changes nothing.
func TestFrameWriterRefusesSpansACutReached(t *testing.T) {
	w := newSpanWorld(t)
	f, id := w.segment("a.log", spanBytes)
	frame := []byte("0123")
	span := disk.Span{File: id, Pos: 1000, Len: 2000}
	must(t, f.Truncate(5000)) // past the span
	got, _, err := w.send(frame, []kafka.Cut{{At: 2, Span: span}}, true)
	if err != nil || len(got) != 2004 {
		t.Fatalf("after a cut past the span: %d bytes, %v", len(got), err)
	}
	must(t, f.Truncate(2999)) // one byte into it
	_, err = f.WriteAt(bytes.Repeat([]byte("y"), 3000), 2999)
	must(t, err) // appended again, other bytes: the file is as long as before
	for _, at := range []int{2, 4} {
		got, _, err := w.send(frame, []kafka.Cut{{At: at, Span: span}}, true)
		if !errors.Is(err, errSpanLost) || len(got) >= len(frame)+int(span.Len) {
			t.Fatalf("span at %d after a cut into it: %d bytes arrived, %v", at, len(got), err)
		}
	}
}

// A file no span used for spanFileIdle is closed; a span into it is then lost, and a
// new read holds the file again.
func TestSpanFilesCloseIdleFiles(t *testing.T) {
	w := newSpanWorld(t)
	f, id := w.segment("a.log", spanBytes)
	w.now = w.now.Add(spanFileIdle)
	_, other := w.segment("b.log", spanBytes) // a Hold sweeps
	if w.files.held() != 1 {
		t.Fatalf("%d files held, want the idle one closed", w.files.held())
	}
	if _, _, err := w.send([]byte("."), []kafka.Cut{{At: 0, Span: disk.Span{File: id, Len: 10}}}, true); !errors.Is(err, errSpanLost) {
		t.Fatalf("a span into a closed file: %v", err)
	}
	again, err := w.files.Hold(f)
	if err != nil || again == id || again == other {
		t.Fatalf("held again as %d (%v); first %d, other %d", again, err, id, other)
	}
}

// TestFetchSentWithSendfile: a node answers consumer fetches, at every kind of Fetch
// version, with frames that are kmsg's encoding of the response and whose records are
// exactly the bytes of the partition's segment files, sent with sendfile.
func TestFetchSentWithSendfile(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("metrics.listener", "127.0.0.1:0"))
		must(t, c.Set("log.segment.bytes", "16384"))
	})
	cl := tc.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	tc.createTopic(cl, "z", 1, 1)
	for round := range 8 {
		var recs []*kgo.Record
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: "z", Value: bytes.Repeat([]byte{byte('a' + round)}, 1000+i)})
		}
		must(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
	}
	// The records below the high watermark are every segment file's bytes, in order.
	dir := filepath.Join(tc.cfgs[0].DataDir, "z-0")
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	must(t, err)
	slices.Sort(names)
	var want []byte
	for _, name := range names {
		b, err := os.ReadFile(name)
		must(t, err)
		want = append(want, b...)
	}
	if len(names) < 3 {
		t.Fatalf("%d segments, want several", len(names))
	}

	r := dialRaw(t, tc.nodes[0].ClientAddr())
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.SetVersion(12)
	mreq.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("z")}}
	topicID := r.roundTrip(mreq).(*kmsg.MetadataResponse).Topics[0].TopicID
	for _, v := range []int16{4, 7, 11, 12, 13, 16} {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(v)
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "z", topicID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = -1, 1<<20
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		r.write(r.encode(req))
		raw := r.readFrame()
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(v)
		corr, err := wire.ParseResponse(raw, resp)
		must(t, err)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || !bytes.Equal(p.RecordBatches, want) {
			t.Fatalf("v%d: code %d, %d record bytes, the segments hold %d", v, p.ErrorCode, len(p.RecordBatches), len(want))
		}
		if again := wire.AppendResponse(nil, corr, resp); !bytes.Equal(again[4:], raw) {
			t.Fatalf("v%d: the frame is not kmsg's encoding of the response", v)
		}
	}
	// Every record byte went with sendfile, but the last byte of the three frames
	// (v4, v7, v11) that end with their records: it is read before the last check.
	s := scrape(t, tc.nodes[0].MetricsAddr())
	sent, copied := s["seedlog_fetch_bytes_sendfile_total"], s["seedlog_fetch_bytes_copied_total"]
	if canSendfile && (sent != float64(6*len(want)-3) || copied != 3) {
		t.Fatalf("%v record bytes sent with sendfile and %v copied, for 6 fetches of %d", sent, copied, len(want))
	}
	// The segment files stay held for the next fetch, well within fetch.span.files.max.
	if held, refused := s["seedlog_fetch_span_files"], s["seedlog_fetch_span_files_refused_total"]; held != float64(len(names)) || refused != 0 {
		t.Fatalf("%v span files held and %v holds refused, want the %d segments and none", held, refused, len(names))
	}
}

// A log's file cache may close a segment file and open it again: a cut through the new
// File reaches the spans held through the old one, and a read through the new File
// shares their hold.
func TestSpanFilesFollowAReopenedFile(t *testing.T) {
	w := newSpanWorld(t)
	f, id := w.segment("a.log", spanBytes)
	must(t, f.Close())
	again, err := w.fsys.Open("a.log")
	must(t, err)
	defer again.Close()
	if same, err := w.files.Hold(again); err != nil || same != id {
		t.Fatalf("the reopened file is held as %d (%v), want %d", same, err, id)
	}
	span := disk.Span{File: id, Pos: 1000, Len: 2000}
	must(t, again.Truncate(2999))
	_, err = again.WriteAt(bytes.Repeat([]byte("y"), 3000), 2999)
	must(t, err)
	if got, _, err := w.send([]byte("0123"), []kafka.Cut{{At: 2, Span: span}}, true); !errors.Is(err, errSpanLost) || len(got) >= 2004 {
		t.Fatalf("a span into a file cut through its reopened File: %d bytes arrived, %v", len(got), err)
	}
	// Created again under its name, the file is cut to nothing (O_TRUNC): a new read
	// holds it afresh, and the old spans stay refused.
	_, other := w.segment("a.log", spanBytes)
	if other == id {
		t.Fatalf("the file created again shares the old hold %d", id)
	}
	if _, _, err := w.send([]byte("."), []kafka.Cut{{At: 0, Span: disk.Span{File: id, Len: 10}}}, true); !errors.Is(err, errSpanLost) {
		t.Fatalf("a span into the file before it was created again: %v", err)
	}
	if got, _, err := w.send([]byte("."), []kafka.Cut{{At: 0, Span: disk.Span{File: other, Len: 10}}}, true); err != nil || len(got) != 11 {
		t.Fatalf("a span into the file created again: %d bytes, %v", len(got), err)
	}
}

// spanExec is an executor whose reads hold span files in a spanFiles of bound files,
// over logs of one batch each.
type spanExec struct {
	exec  *diskexec.Executor
	files *spanFiles
	logs  []disk.LogID
	op    disk.OpID
}

func newSpanExec(t *testing.T, bound, logs int) *spanExec {
	files := newSpanFiles(time.Now, bound)
	fsys := spanFS{FS: storage.NewOSFS(t.TempDir()), files: files}
	exec, _, err := diskexec.Open(fsys, diskexec.Config{Log: storage.LogConfig{SegmentBytesMax: 1 << 20}, Files: files})
	must(t, err)
	t.Cleanup(func() { exec.Close(); files.close() })
	e := &spanExec{exec: exec, files: files}
	for i := range logs {
		id := disk.PartitionLog("spans", int32(i))
		e.logs = append(e.logs, id)
		e.do(t, disk.Op{Kind: disk.CreateLog, Log: id})
		batch, err := record.BuildValues(record.Spec{FirstTimestamp: 1}.NoProducer(), bytes.Repeat([]byte{byte('a' + i)}, 3000+i))
		must(t, err)
		e.do(t, disk.Op{Kind: disk.Append, Log: id, Data: batch})
	}
	return e
}

func (e *spanExec) do(t *testing.T, op disk.Op) disk.Done {
	t.Helper()
	e.op++
	op.ID = e.op
	d := e.exec.Do(op)
	if d.Err != nil {
		t.Fatalf("%v: %v", op.Kind, d.Err)
	}
	return d
}

// read reads log i whole, as spans or as bytes.
func (e *spanExec) read(t *testing.T, i int, spans bool) disk.Done {
	return e.do(t, disk.Op{Kind: disk.Read, Log: e.logs[i], MaxOffset: 1, MaxBytes: 1 << 20, Spans: spans})
}

// Past fetch.span.files.max, a read whose files cannot be held (every held file has a
// span handed out and not sent) goes as a copy of the same bytes; the spans already
// handed out keep their files and send. Once sent, their files are idle, and reads of
// more files than the bound are all spans again, the least recently used file closed
// for each.
func TestSpanFilesBoundCopiesWhenBusyAndEvictsIdle(t *testing.T) {
	const bound, logs = 4, 10
	e := newSpanExec(t, bound, logs)
	var want [][]byte
	for i := range logs {
		want = append(want, e.read(t, i, false).Data)
	}
	var cuts []kafka.Cut
	for i := range logs {
		d := e.read(t, i, true)
		if len(d.Spans) != 1 {
			t.Fatalf("log %d: %d spans", i, len(d.Spans))
		}
		sp := d.Spans[0]
		if inFile := sp.File != 0; inFile != (i < bound) || !inFile && !bytes.Equal(sp.Data, want[i]) {
			t.Fatalf("log %d: span in file %d with %d bytes; want a file span only below the bound of %d, else the read's bytes", i, sp.File, len(sp.Data), bound)
		}
		if n := e.files.held(); n > bound {
			t.Fatalf("%d files held, bound %d", n, bound)
		}
		cuts = append(cuts, kafka.Cut{At: i, Span: sp})
	}
	if r := e.files.refused.Load(); r != logs-bound {
		t.Fatalf("%d holds refused, want %d", r, logs-bound)
	}
	frame := []byte("0123456789")
	w := &spanWorld{t: t, files: e.files}
	got, _, err := w.send(frame, cuts, true)
	var wantFrame []byte
	for i := range logs {
		wantFrame = append(append(wantFrame, want[i]...), frame[i]) // a cut at i comes before frame[i]
	}
	if err != nil || !bytes.Equal(got, wantFrame) {
		t.Fatalf("the spans and copies sent %d bytes (%v), want %d", len(got), err, len(wantFrame))
	}
	// Every span sent: a read and its send, log after log, holds each file in turn.
	for i := range logs {
		sp := e.read(t, i, true).Spans[0]
		if sp.File == 0 {
			t.Fatalf("log %d read as bytes with every held file idle", i)
		}
		if n := e.files.held(); n > bound {
			t.Fatalf("%d files held, bound %d", n, bound)
		}
		got, _, err := w.send(frame[:1], []kafka.Cut{{At: 1, Span: sp}}, i%2 == 0)
		if want := append(frame[:1:1], want[i]...); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("log %d: %d bytes (%v), want %d", i, len(got), err, len(want))
		}
	}
	// The first bound logs' files were still held from the first reads.
	if ev := e.files.evicted.Load(); ev != logs-bound {
		t.Fatalf("%d idle files closed for room, want %d", ev, logs-bound)
	}
}

// A file a writer sends from, or with a span handed out and not yet sent, is never
// closed for room; a span unsent for spanFileIdle (the core dropped it) no longer keeps
// its file.
func TestSpanFilesBoundKeepsBusyFiles(t *testing.T) {
	w := newSpanWorld(t)
	w.files.max = 2
	start := w.now
	file := func(name string) storage.File { // a segment not yet held
		f, err := w.fsys.Create(name)
		must(t, err)
		_, err = f.WriteAt(spanBytes, 0)
		must(t, err)
		return f
	}
	lost := func(id disk.FileID) bool {
		_, _, err := w.send([]byte("."), []kafka.Cut{{At: 0, Span: disk.Span{File: id, Len: 10}}}, true)
		return errors.Is(err, errSpanLost)
	}
	_, sending := w.segment("a.log", spanBytes)
	h := w.files.open(sending) // a writer sends from it; its span is no longer pending
	_, pending := w.segment("b.log", spanBytes)
	c := file("c.log")
	w.now = w.now.Add(time.Second)
	if id, err := w.files.Hold(c); !errors.Is(err, errSpanFilesFull) || id != 0 || w.files.held() != 2 {
		t.Fatalf("a hold past the bound with every file busy: %d, %v, %d held", id, err, w.files.held())
	}
	w.files.release(h)
	w.now = w.now.Add(time.Second)
	third, err := w.files.Hold(c)
	if err != nil || w.files.held() != 2 || !lost(sending) {
		t.Fatalf("a hold past the bound once a file is idle: %d (%v), %d held; want the idle file closed", third, err, w.files.held())
	}
	// b.log's span is still unsent: within spanFileIdle of its hold its file stays;
	// past it, it makes room (the sweep kept from running: eviction alone decides).
	d := file("d.log")
	w.now = start.Add(spanFileIdle - 1)
	w.files.sweptAt = w.now
	if _, err := w.files.Hold(d); !errors.Is(err, errSpanFilesFull) {
		t.Fatalf("a hold past the bound within spanFileIdle of a pending span: %v", err)
	}
	w.now = w.now.Add(1)
	if _, err := w.files.Hold(d); err != nil || !lost(pending) || lost(third) {
		t.Fatalf("a hold past the bound, a span pending for spanFileIdle: %v; want that file closed, not the younger", err)
	}
	if r, ev := w.files.refused.Load(), w.files.evicted.Load(); r != 2 || ev != 2 {
		t.Fatalf("%d holds refused and %d files closed for room, want 2 and 2", r, ev)
	}
}
