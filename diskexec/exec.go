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

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/storage"
)

// Config tunes the logs an Executor opens.
type Config struct {
	Log storage.LogConfig
}

// ErrUnknownLog is returned for an Op on a log that does not exist.
var ErrUnknownLog = errors.New("diskexec: unknown log")

// readChunkBytes bounds one Read of the metadata log during recovery.
const readChunkBytes = 4 << 20

// Executor owns the open logs of one node. It is used by one goroutine at a time.
type Executor struct {
	fsys storage.FS
	cfg  Config
	logs map[disk.LogID]*storage.Log
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
		var cut int64
		if rec.Metadata, cut, err = readAll(l); err != nil {
			e.Close()
			return nil, rec, fmt.Errorf("diskexec: read the metadata log: %w", err)
		}
		if cut >= 0 {
			if err := cutMetadata(l, cut, &rec); err != nil {
				e.Close()
				return nil, rec, fmt.Errorf("diskexec: cut the metadata log at damage: %w", err)
			}
		}
	}
	return e, rec, nil
}

func (e *Executor) recoverLog(id disk.LogID) (disk.LogState, error) {
	l, err := storage.OpenLog(e.fsys, string(id), e.cfg.Log)
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
	}
	for _, ep := range epochs {
		st.Epochs = append(st.Epochs, disk.EpochEntry{Epoch: ep.Epoch, StartOffset: ep.StartOffset})
	}
	return st, nil
}

// readAll reads every batch of l. Bytes that fail validation end the read: what came
// before is returned, and the owner (raft) re-checks it and learns what it lost.
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
		strings.HasSuffix(name, storage.TmpSuffix),
		strings.HasSuffix(name, storage.LogFileSuffix),
		strings.HasSuffix(name, storage.IndexFileSuffix),
		strings.HasSuffix(name, storage.TimeIndexFileSuffix):
		return true
	}
	return false
}

//
// cut is the offset where damage begins (-1 when none): recovery validates a log only
// from its recovery point, so bytes that decayed at rest in a sealed segment below it
// show only here, and Open cuts the log there (cutMetadata) so that the log on disk
// ends where the batches the owner is given end.
func readAll(l *storage.Log) (out []byte, cut int64, err error) {
	for off := l.StartOffset(); off < l.EndOffset(); {
		b, err := l.Read(off, l.EndOffset(), readChunkBytes)
		if errors.Is(err, storage.ErrCorrupt) {
			// Find the last good batch before the damage, one batch at a time.
			for off < l.EndOffset() {
				b, err := l.Read(off, l.EndOffset(), 1)
				if err != nil || len(b) == 0 {
					break
				}
				out = append(out, b...)
				off = lastNextOffset(b)
			}
			return out, off, nil
		}
		if err != nil {
			return nil, -1, err
		}
		if len(b) == 0 {
			break
		}
		out = append(out, b...)
		last := lastNextOffset(b)
		if last <= off {
			return nil, -1, fmt.Errorf("no progress reading at %d", off)
		}
		off = last
	}
	return out, -1, nil
}

// cutMetadata cuts the metadata log at cut, where readAll found damage, durably, and
// updates what recovery reports of it. When the damaged batch's own header cannot be
// parsed, the cut falls one batch earlier (rec.Metadata loses that batch too): the
// owner recovers whatever it lost from its peers either way.
func cutMetadata(l *storage.Log, cut int64, rec *disk.Recovered) error {
	size := func() (n int64) {
		for _, s := range l.Segments() {
			n += s.SizeBytes
		}
		return n
	}
	before := size()
	err := l.TruncateTo(cut)
	if errors.Is(err, storage.ErrCorrupt) {
		base, end, last := int64(-1), 0, 0
		record.Split(rec.Metadata, func(h record.Header, b []byte) error {
			base, end, last = h.BaseOffset, end+len(b), len(b)
			return nil
		})
		if base < 0 {
			err = l.TruncateFullyAndStartAt(l.StartOffset())
		} else {
			rec.Metadata = rec.Metadata[:end-last]
			err = l.TruncateTo(base)
		}
	}
	if err != nil {
		return err
	}
	if err := l.Sync(); err != nil {
		return err
	}
	for i := range rec.Logs {
		if rec.Logs[i].ID == disk.MetadataLog {
			rec.Logs[i].EndOffset = l.EndOffset()
			rec.Logs[i].BytesCut += before - size()
		}
	}
	return nil
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
	var syncs []int
	for i, op := range ops {
		if op.Kind == disk.Sync {
			dones[i] = disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log}
			syncs = append(syncs, i)
			continue
		}
		dones[i] = e.do(op)
	}
	synced := map[disk.LogID]error{}
	for _, i := range syncs {
		id := ops[i].Log
		err, ok := synced[id]
		if !ok {
			err = e.sync(id)
			synced[id] = err
		}
		dones[i].Err = err
	}
	return dones
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
		d.Data, d.Offset, err = e.onLog(l, op)
	}
	if err != nil {
		d.Err = fmt.Errorf("%s: %w", op, err)
	}
	return d
}

func (e *Executor) onLog(l *storage.Log, op disk.Op) ([]byte, int64, error) {
	switch op.Kind {
	case disk.Append:
		if op.Offset != l.EndOffset() {
			return nil, 0, fmt.Errorf("append at %d but the log ends at %d", op.Offset, l.EndOffset())
		}
		return nil, 0, l.Append(op.Data)
	case disk.Truncate:
		return nil, 0, l.TruncateTo(op.Offset)
	case disk.Reset:
		return nil, 0, l.TruncateFullyAndStartAt(op.Offset)
	case disk.DeleteBelow:
		return nil, 0, l.DeleteBelow(op.Offset)
	case disk.Read:
		b, err := l.Read(op.Offset, op.MaxOffset, int(op.MaxBytes))
		return b, l.StartOffset(), err
	case disk.FindTime:
		off, found, err := l.OffsetForTimestamp(op.Offset)
		if err != nil || !found || off >= op.MaxOffset {
			return nil, -1, err
		}
		return nil, off, nil
	case disk.Retain:
		err := l.DeleteBelow(retentionCutoff(l.Segments(), l.StartOffset(), op.MaxOffset, op.Retention))
		return nil, l.StartOffset(), err
	case disk.LeaderEpochs:
		entries := make([]storage.EpochEntry, len(op.Epochs))
		for i, ep := range op.Epochs {
			entries[i] = storage.EpochEntry{Epoch: ep.Epoch, StartOffset: ep.StartOffset}
		}
		return nil, 0, storage.WriteLeaderEpochs(e.fsys, string(op.Log), entries)
	}
	return nil, 0, fmt.Errorf("unknown op kind %v", op.Kind)
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
	l, err := storage.OpenLog(e.fsys, string(id), e.cfg.Log)
	if err != nil {
		return err
	}
	e.logs[id] = l
	if start > 0 || l.EndOffset() != 0 {
		// A directory left behind by an earlier, interrupted deletion: start afresh.
		if err := l.TruncateFullyAndStartAt(start); err != nil {
			return err
		}
	}
	if err := l.Sync(); err != nil {
		return err
	}
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
