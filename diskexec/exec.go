// Package diskexec carries out a core node's disk work on storage. The real node and the
// simulator both use it; only the storage.FS beneath it (the OS or disksim) and the
// timing of completions differ between the two worlds, so the simulator tests the same
// code that runs in production.
//
// A node's data directory holds one subdirectory per log (named by its disk.LogID) and the
// small files the core writes with disk.WriteFile (the quorum state, the metadata
// snapshot, ...). Open recovers all of it; Do and DoAll execute Ops in order.
package diskexec

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/storage"
)

// Config tunes the logs an Executor opens.
type Config struct {
	Log storage.LogConfig
	// Files, when set, keeps segment files readable for file spans: a Read with
	// Op.Spans then answers spans that point into files (the real node sends them with
	// sendfile). Without it (the simulator), every span carries the bytes the read
	// validated, which is what a file span stands for.
	Files SpanFiles
}

// SpanFiles keeps the segment files of file spans readable until the spans were sent,
// and knows when a file lost bytes since: the shell must then not send a span past
// what is left (storage.Log.ReadSpans says why that does not happen in a log that
// loses nothing).
type SpanFiles interface {
	// Hold returns the FileID under which the shell will find f, holding what it holds
	// now: it is called on the executor's goroutine, in op order, before any later op
	// touches f.
	Hold(f storage.File) (disk.FileID, error)
}

// spanBufferBytesMax bounds the read buffer an executor keeps between span reads: a
// consumer's read of a partition is usually at most max.partition.fetch.bytes (1 MiB),
// and a buffer kept spares each such read an allocation as large (BenchmarkFetchSend in
// package node); a larger read allocates and drops its own.
const spanBufferBytesMax = 16 << 20

// ErrUnknownLog is returned for an Op on a log that does not exist.
var ErrUnknownLog = errors.New("diskexec: unknown log")

// readChunkBytes bounds one Read of the metadata log during recovery.
const readChunkBytes = 4 << 20

// Executor owns the open logs of one node. It is used by one goroutine at a time.
type Executor struct {
	fsys storage.FS
	cfg  Config
	logs map[disk.LogID]*storage.Log
	// spanBuf is where span reads read and validate their bytes when the bytes go
	// nowhere else (cfg.Files).
	spanBuf []byte
}

// Open recovers every log under the root of fsys, syncs what recovery kept (so all it
// reports is durable), and returns what it found.
func Open(fsys storage.FS, cfg Config) (*Executor, disk.Recovered, error) {
	e := &Executor{fsys: fsys, cfg: cfg, logs: map[disk.LogID]*storage.Log{}}
	rec := disk.Recovered{Files: map[string][]byte{}}
	names, err := fsys.List(".")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, rec, fmt.Errorf("diskexec: list data directory: %w", err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, ".tmp") {
			continue // an interrupted atomic write; the previous version stands
		}
		st, err := fsys.Stat(name)
		if err != nil {
			return nil, rec, fmt.Errorf("diskexec: stat %s: %w", name, err)
		}
		if !st.IsDir {
			data, err := storage.ReadFile(fsys, name)
			if err != nil {
				return nil, rec, fmt.Errorf("diskexec: read %s: %w", name, err)
			}
			rec.Files[name] = data
			continue
		}
		state, err := e.recoverLog(disk.LogID(name))
		if err != nil {
			e.Close()
			return nil, rec, err
		}
		rec.Logs = append(rec.Logs, state)
		if err := e.readLogFiles(name, rec.Files); err != nil {
			e.Close()
			return nil, rec, err
		}
	}
	if l := e.logs[disk.MetadataLog]; l != nil {
		var end int64
		if rec.Metadata, end, err = readAll(l); err != nil {
			e.Close()
			return nil, rec, fmt.Errorf("diskexec: read the metadata log: %w", err)
		}
		if err := cutMetadataLog(l, end, &rec); err != nil {
			e.Close()
			return nil, rec, err
		}
	}
	return e, rec, nil
}

// cutMetadataLog cuts the metadata log at end, where the batches handed to raft end,
// when bytes after it failed validation (damage in a segment recovery trusted without
// reading): raft appends after what it was given, so the log must end there too. Raft
// learns what it lost from its quorum state and fetches it back. When the cut cannot
// find where the damaged batch begins (its header is what decayed), it falls one batch
// earlier, and raft is given one batch less.
func cutMetadataLog(l *storage.Log, end int64, rec *disk.Recovered) error {
	if end >= l.EndOffset() {
		return nil
	}
	err := l.TruncateTo(end)
	if errors.Is(err, storage.ErrCorrupt) {
		base, lastAt, pos := int64(-1), 0, 0
		record.Split(rec.Metadata, func(h record.Header, b []byte) error {
			base, lastAt, pos = h.BaseOffset, pos, pos+len(b)
			return nil
		})
		if base < 0 {
			err = l.TruncateFullyAndStartAt(l.StartOffset())
		} else {
			rec.Metadata = rec.Metadata[:lastAt]
			err = l.TruncateTo(base)
		}
	}
	if err != nil {
		return fmt.Errorf("diskexec: cut the metadata log at %d after damage: %w", end, err)
	}
	for i := range rec.Logs {
		if rec.Logs[i].ID == disk.MetadataLog {
			rec.Logs[i].EndOffset = l.EndOffset()
		}
	}
	return nil
}

// logConfig is the configuration of log id: the metadata log never fences damage, since
// the quorum recovers lost entries itself (core/raft) and needs its log to end where its
// last valid entry does. It keeps its own few segment files open rather than share the
// partitions' file cache: it runs in the quorum's lane, which a node may run on a
// goroutine of its own (SplitQuorum).
func (e *Executor) logConfig(id disk.LogID) storage.LogConfig {
	cfg := e.cfg.Log
	if id == disk.MetadataLog {
		cfg.NoFences, cfg.Files = true, nil
	}
	return cfg
}

// SplitQuorum moves the quorum's lane (disk.QuorumLane: the metadata log and the files
// at the root of the data directory) to an executor of its own and returns it. The two
// share no log, file or buffer, so that the real node runs each lane on a goroutine of
// its own: the quorum's syncs never wait behind the partitions' work. Call it before
// either runs an op; from then on each executor takes only its own lane's ops.
func (e *Executor) SplitQuorum() *Executor {
	q := &Executor{fsys: e.fsys, cfg: e.cfg, logs: map[disk.LogID]*storage.Log{}}
	q.cfg.Files = nil // the quorum's lane reads no spans
	if l := e.logs[disk.MetadataLog]; l != nil {
		q.logs[disk.MetadataLog] = l
		delete(e.logs, disk.MetadataLog)
	}
	return q
}

func (e *Executor) recoverLog(id disk.LogID) (disk.LogState, error) {
	l, err := storage.OpenLog(e.fsys, string(id), e.logConfig(id))
	if err != nil {
		return disk.LogState{}, fmt.Errorf("diskexec: recover log %s: %w", id, err)
	}
	e.logs[id] = l
	if err := l.Sync(); err != nil {
		return disk.LogState{}, fmt.Errorf("diskexec: sync recovered log %s: %w", id, err)
	}
	epochs, err := storage.ReadLeaderEpochs(e.fsys, string(id))
	if err != nil {
		// A bad epoch checkpoint is not fatal: the core rebuilds the cache from the log's
		// batches when it needs it, and rewrites the checkpoint.
		epochs = nil
	}
	st := disk.LogState{
		ID:          id,
		StartOffset: l.StartOffset(),
		EndOffset:   l.EndOffset(),
		BytesCut:    l.Recovery().BytesCut,
		Fences:      diskFences(l.Fences()),
		FencedNow:   diskFences(l.Recovery().Fenced),
	}
	if rep := l.Recovery(); rep.AbortedCutOffset >= 0 {
		st.AbortedCut, st.AbortedCutOffset, st.AbortedCutReason = true, rep.AbortedCutOffset, rep.AbortedCutReason
	}
	for _, ep := range epochs {
		st.Epochs = append(st.Epochs, disk.EpochEntry{Epoch: ep.Epoch, StartOffset: ep.StartOffset})
	}
	return st, nil
}

// readLogFiles adds to files the small files the core keeps inside a log directory
// (a producer-state snapshot, the topic id), named "<log>/<file>". Storage's own files
// are left to storage.
func (e *Executor) readLogFiles(dir string, files map[string][]byte) error {
	names, err := e.fsys.List(dir)
	if err != nil {
		return fmt.Errorf("diskexec: list %s: %w", dir, err)
	}
	for _, name := range names {
		if storageFile(name) {
			continue
		}
		p := path.Join(dir, name)
		data, err := storage.ReadFile(e.fsys, p)
		if err != nil {
			return fmt.Errorf("diskexec: read %s: %w", p, err)
		}
		files[p] = data
	}
	return nil
}

// storageFile reports whether name is one of storage's files in a log directory.
func storageFile(name string) bool {
	switch {
	case name == storage.OffsetsCheckpointName, name == storage.LeaderEpochCheckpointName,
		name == storage.FencesFileName, name == storage.FencesCopyFileName,
		strings.HasSuffix(name, storage.TmpSuffix),
		strings.HasSuffix(name, storage.LogFileSuffix),
		strings.HasSuffix(name, storage.IndexFileSuffix),
		strings.HasSuffix(name, storage.TimeIndexFileSuffix),
		strings.HasSuffix(name, storage.TxnIndexFileSuffix):
		return true
	}
	return false
}

// readAll reads every batch of l and returns them with the offset after the last. Bytes
// that fail validation end the read: what came before is returned, and the owner (raft)
// re-checks it and learns what it lost.
func readAll(l *storage.Log) ([]byte, int64, error) {
	var out []byte
	off := l.StartOffset()
	for off < l.EndOffset() {
		b, err := l.Read(off, l.EndOffset(), readChunkBytes)
		if errors.Is(err, storage.ErrCorrupt) {
			return out, off, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(b) == 0 {
			break
		}
		out = append(out, b...)
		last := lastNextOffset(b)
		if last <= off {
			return nil, 0, fmt.Errorf("no progress reading at %d", off)
		}
		off = last
	}
	return out, off, nil
}

// Close closes every open log.
func (e *Executor) Close() error {
	var first error
	for _, id := range e.sortedLogs() {
		if err := e.logs[id].Close(); err != nil && first == nil {
			first = err
		}
	}
	e.logs = map[disk.LogID]*storage.Log{}
	return first
}

// Do executes one Op. A Sync is carried out at once.
func (e *Executor) Do(op disk.Op) disk.Done {
	done := e.do(op)
	if op.Kind == disk.Sync && done.Err == nil {
		done.Err = e.sync(op.Log)
	}
	return done
}

// DoAll executes ops in order and returns their Dones in the same order. Syncs are
// group-committed: each dirty log is synced once, after every other op of the batch has
// run, and every Sync of the batch completes with that one sync's result. This is safe
// because an op later in the batch never needs an earlier Sync to have happened: appends
// only extend what the deferred sync covers, truncations and file writes are durable on
// their own, and nothing reports a Sync done before the sync itself ran.
func (e *Executor) DoAll(ops []disk.Op) []disk.Done {
	dones := make([]disk.Done, len(ops))
	for i, op := range ops {
		if op.Kind != disk.Sync {
			dones[i] = e.do(op)
		}
	}
	// A batch names few logs: a list finds the one sync of each faster than a map, and
	// its first few entries need no allocation.
	var room [4]syncResult
	synced := room[:0]
	for i, op := range ops {
		if op.Kind != disk.Sync {
			continue
		}
		j := slices.IndexFunc(synced, func(r syncResult) bool { return r.log == op.Log })
		if j < 0 {
			synced = append(synced, syncResult{op.Log, e.sync(op.Log)})
			j = len(synced) - 1
		}
		dones[i] = disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log, Err: synced[j].err}
	}
	return dones
}

// syncResult is the outcome of the one sync DoAll made of a log.
type syncResult struct {
	log disk.LogID
	err error
}

func (e *Executor) sync(id disk.LogID) error {
	l := e.logs[id]
	if l == nil {
		return nil // deleted since: nothing left to make durable
	}
	if err := l.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", id, err)
	}
	return nil
}

func (e *Executor) do(op disk.Op) disk.Done {
	d := disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log}
	var err error
	switch op.Kind {
	case disk.Sync:
		// carried out by Do or DoAll
	case disk.WriteFile:
		err = e.writeFile(op.Name, op.Data)
	case disk.RemoveFile:
		err = e.removeFile(op.Name)
	case disk.CreateLog:
		err = e.createLog(op.Log, op.Offset)
	case disk.DeleteLog:
		err = e.deleteLog(op.Log)
	default:
		l := e.logs[op.Log]
		if l == nil {
			err = fmt.Errorf("%w: %s", ErrUnknownLog, op.Log)
			break
		}
		switch op.Kind {
		case disk.Clean:
			err = clean(l, op, &d)
		case disk.FindTime, disk.FindMaxTime:
			err = findTime(l, op, &d)
		case disk.Size:
			d.Bytes = l.SizeBytes()
		case disk.Read:
			if op.Spans {
				err = e.readSpans(l, op, &d)
			} else {
				d.Data, d.Offset, d.Fences, err = e.onLog(l, op)
			}
			if err == nil && op.ListAborted {
				d.Aborted, err = l.Aborted(op.Offset, readEnd(op, d))
			}
		case disk.SetAborted:
			err = l.SetAborted(op.Offset, op.Aborted)
		case disk.Truncate:
			// The aborts whose marker the cut takes and whose first records it leaves:
			// the owner opens them again.
			if d.Aborted, err = l.Aborted(op.Offset, op.Offset); err == nil {
				d.Data, d.Offset, d.Fences, err = e.onLog(l, op)
			}
		default:
			d.Data, d.Offset, d.Fences, err = e.onLog(l, op)
		}
	}
	if err != nil {
		d.Err = fmt.Errorf("%s: %w", op, err)
		d.Corrupt = errors.Is(err, storage.ErrCorrupt)
		var fe *storage.FencedError
		if errors.As(err, &fe) {
			d.Fences = []disk.Fence{fe.Fence}
		}
	}
	return d
}

// diskFences is a log's fences as a Done carries them: nil when there are none.
func diskFences(fs []disk.Fence) []disk.Fence {
	if len(fs) == 0 {
		return nil
	}
	return fs
}

func (e *Executor) onLog(l *storage.Log, op disk.Op) ([]byte, int64, []disk.Fence, error) {
	switch op.Kind {
	case disk.Append:
		if op.Offset != l.EndOffset() {
			return nil, 0, nil, fmt.Errorf("append at %d but the log ends at %d", op.Offset, l.EndOffset())
		}
		return nil, 0, nil, l.AppendAborting(op.Data, op.Aborted)
	case disk.Truncate:
		return nil, 0, nil, l.TruncateTo(op.Offset)
	case disk.Reset:
		return nil, 0, nil, l.TruncateFullyAndStartAt(op.Offset)
	case disk.DeleteBelow:
		return nil, 0, nil, l.DeleteBelow(op.Offset)
	case disk.Read:
		b, err := l.Read(op.Offset, op.MaxOffset, int(op.MaxBytes))
		return b, l.StartOffset(), nil, err
	case disk.Retain:
		cut := retentionCutoff(l.Segments(), l.StartOffset(), op.MaxOffset, op.Retention)
		if cut > l.StartOffset() && e.cfg.Log.Plants.On(plant.RetentionDeletesActive) {
			cut = op.MaxOffset // the active segment goes with the expired ones
		}
		err := l.DeleteBelow(cut)
		return nil, l.StartOffset(), nil, err
	case disk.LeaderEpochs:
		entries := make([]storage.EpochEntry, len(op.Epochs))
		for i, ep := range op.Epochs {
			entries[i] = storage.EpochEntry{Epoch: ep.Epoch, StartOffset: ep.StartOffset}
		}
		return nil, 0, nil, storage.WriteLeaderEpochs(e.fsys, string(op.Log), entries)
	case disk.CheckDamage:
		found, err := l.CheckDamage(op.Offset)
		return nil, 0, diskFences(found), err
	case disk.SetSegments:
		return nil, 0, nil, l.SetSegmentLimits(op.Segments.Bytes, time.Duration(op.Segments.AgeMs)*time.Millisecond, int(op.Segments.IndexBytes))
	case disk.Skip:
		if op.Offset != l.EndOffset() {
			return nil, 0, nil, fmt.Errorf("skip from %d but the log ends at %d", op.Offset, l.EndOffset())
		}
		return nil, 0, nil, l.SkipTo(op.MaxOffset, storage.FenceLost)
	}
	return nil, 0, nil, fmt.Errorf("unknown op kind %v", op.Kind)
}

// readSpans carries out a Read with Op.Spans. With cfg.Files the bytes are read (and
// validated) into a buffer the executor keeps, and the spans point into the files; a
// file the shell could not hold goes as bytes.
func (e *Executor) readSpans(l *storage.Log, op disk.Op, d *disk.Done) error {
	var buf *[]byte
	if e.cfg.Files != nil {
		buf = &e.spanBuf
	}
	spans, next, err := l.ReadSpans(op.Offset, op.MaxOffset, int(op.MaxBytes), buf)
	d.Offset, d.Next = l.StartOffset(), next
	if cap(e.spanBuf) > spanBufferBytesMax {
		e.spanBuf = nil
	}
	if err != nil {
		return err
	}
	d.Spans = make([]disk.Span, len(spans))
	for i, sp := range spans {
		ds := disk.Span{Base: sp.Base, Pos: sp.Pos, Len: int64(len(sp.Data)), Data: sp.Data}
		if buf != nil {
			ds.Data = nil
			if sp.File != nil {
				ds.File, err = e.cfg.Files.Hold(sp.File)
			}
			if sp.File == nil || err != nil {
				ds.File, ds.Data = 0, slices.Clone(sp.Data) // the buffer is the next read's
			}
		}
		d.Spans[i] = ds
	}
	return nil
}

// findTime carries out a FindTime or FindMaxTime op.
func findTime(l *storage.Log, op disk.Op, d *disk.Done) error {
	var at storage.TimestampAt
	var found bool
	var err error
	if op.Kind == disk.FindMaxTime {
		at, found, err = l.LookupMaxTimestamp(op.MaxOffset)
	} else {
		at, found, err = l.LookupTimestamp(op.Offset, op.MaxOffset)
	}
	d.Offset, d.Timestamp = -1, -1
	if found && err == nil {
		d.Offset, d.Timestamp = at.Offset, at.Timestamp
	}
	return err
}

// clean carries out a Clean op.
func clean(l *storage.Log, op disk.Op, d *disk.Done) error {
	rep, err := l.CleanStep(op.MaxOffset, op.Compaction, int64(op.MaxBytes))
	d.More, d.Bytes, d.Offset = rep.More, rep.StepBytes, rep.DirtyEnd
	if errors.Is(err, storage.ErrDedupeBufferSmall) {
		d.Offset = -1
		return nil
	}
	return err
}

func (e *Executor) writeFile(name string, data []byte) error {
	if dir := path.Dir(name); dir != "." {
		if err := e.fsys.MkdirAll(dir); err != nil {
			return err
		}
	}
	return storage.WriteFileAtomic(e.fsys, name, data)
}

func (e *Executor) removeFile(name string) error {
	if err := e.fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return e.fsys.SyncDir(path.Dir(name))
}

func (e *Executor) createLog(id disk.LogID, start int64) error {
	if e.logs[id] != nil {
		return fmt.Errorf("log %s exists", id)
	}
	l, err := storage.OpenLog(e.fsys, string(id), e.logConfig(id))
	if err != nil {
		return err
	}
	e.logs[id] = l
	if start > 0 || l.EndOffset() != 0 {
		// A directory left behind by an earlier, interrupted deletion: start afresh.
		if err := l.TruncateFullyAndStartAt(start); err != nil {
			return err
		}
		if err := l.Sync(); err != nil {
			return err
		}
	}
	if l.Recovery().DirCreated {
		// OpenLog synced the new directory's entry; its empty files wait for the first
		// Sync. Thousands of logs are created at once, so each sync here counts.
		return nil
	}
	// A directory that existed may not be durable yet (made by a WriteFile into it).
	return e.fsys.SyncDir(".")
}

func (e *Executor) deleteLog(id disk.LogID) error {
	if l := e.logs[id]; l != nil {
		delete(e.logs, id)
		if err := l.Close(); err != nil && !errors.Is(err, storage.ErrLogFailed) {
			return err
		}
	}
	if err := removeAll(e.fsys, string(id)); err != nil {
		return err
	}
	return e.fsys.SyncDir(".")
}

// removeAll removes dir and every file in it. Logs hold no subdirectories.
func removeAll(fsys storage.FS, dir string) error {
	names, err := fsys.List(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := fsys.Remove(path.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := fsys.SyncDir(dir); err != nil {
		return err
	}
	return fsys.Remove(dir)
}

func (e *Executor) sortedLogs() []disk.LogID {
	return slices.Sorted(maps.Keys(e.logs))
}

// Logs lists the open logs, sorted.
func (e *Executor) Logs() []disk.LogID { return e.sortedLogs() }

// readEnd is the offset after the batches a Read returned (its Offset when none).
func readEnd(op disk.Op, d disk.Done) int64 {
	if op.Spans {
		return max(d.Next, op.Offset)
	}
	if end, ok := record.BatchesEnd(d.Data); ok {
		return end
	}
	return op.Offset
}
