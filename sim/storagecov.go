package sim

import (
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// Coverage of what the disk executor's ops did to segments: a roll, retention or
// DeleteRecords deleting whole segments, a truncation removing whole segments (a
// Truncate, or a Reset of a log of several segments), a cleaning pass merging segments. Each counts as storage:NAME, and
// by the log's kind as storage:NAME:data, storage:NAME:offsets or
// storage:NAME:metadata. A read_committed read told of an abort whose marker a later
// segment holds counts as storage:aborted-listed-across-segments.

// logConfig is the configuration of every node's logs.
func (c *Config) logConfig() storage.LogConfig {
	cfg := storage.LogConfig{SegmentBytesMax: c.SegmentBytes, IndexIntervalBytes: c.IndexIntervalBytes, SegmentAgeMax: c.SegmentAge,
		DedupeBytes: c.CleanerDedupeBytes, Plants: c.Plants}
	if c.OpenFilesMax > 0 {
		cfg.Files = storage.NewFileCache(c.OpenFilesMax, c.Plants)
	}
	return cfg
}

// countSegments wraps open so that the diskexec executors it opens count, into cov,
// what their ops did to segments. Other executors are left as they are.
func countSegments(open OpenDisk, cov Coverage) OpenDisk {
	return func(fsys storage.FS, cfg storage.LogConfig) (Executor, disk.Recovered, error) {
		x, rec, err := open(fsys, cfg)
		if d, ok := x.(*diskexec.Executor); ok && err == nil {
			return &countingExecutor{x: d, cov: cov}, rec, nil
		}
		return x, rec, err
	}
}

// countingExecutor counts what a batch of ops did to the segments of each log it
// touched, from the log's shape before and after the batch.
type countingExecutor struct {
	x   *diskexec.Executor
	cov Coverage
	// touched is DoAll's room for the logs of a batch, kept from one batch to the next.
	touched []touchedLog
}

// touchedLog is a log that a batch's ops may change the segments of.
type touchedLog struct {
	id     disk.LogID
	kinds  uint64 // bit per disk.Kind
	before diskexec.Shape
	ok     bool
}

func (c *countingExecutor) Close() error { return c.x.Close() }

func (c *countingExecutor) DoAll(ops []disk.Op) []disk.Done {
	logs := c.touched[:0]
	for _, op := range ops {
		switch op.Kind {
		case disk.Append, disk.Truncate, disk.Retain, disk.DeleteBelow, disk.Reset, disk.Clean:
		default:
			continue
		}
		i := slices.IndexFunc(logs, func(t touchedLog) bool { return t.id == op.Log })
		if i < 0 {
			before, ok := c.x.Shape(op.Log)
			logs = append(logs, touchedLog{id: op.Log, before: before, ok: ok})
			i = len(logs) - 1
		}
		logs[i].kinds |= 1 << uint(op.Kind)
	}
	c.touched = logs
	dones := c.x.DoAll(ops)
	for _, t := range logs {
		after, ok := c.x.Shape(t.id)
		if t.ok && ok {
			c.count(t.id, t.kinds, t.before, after)
		}
	}
	for i, op := range ops {
		if op.ListAborted && len(dones[i].Aborted) > 0 {
			c.countAborted(op, dones[i].Aborted)
		}
	}
	return dones
}

// countAborted counts a read_committed read told of an abort whose marker lies in a
// later segment than the read's offset: the lookup went past the segment it began in.
func (c *countingExecutor) countAborted(op disk.Op, listed []disk.AbortedTxn) {
	segs := c.x.Segments(op.Log)
	i := slices.IndexFunc(segs, func(s storage.SegmentInfo) bool { return s.BaseOffset <= op.Offset && op.Offset < s.NextOffset })
	if i >= 0 && listed[len(listed)-1].MarkerOffset >= segs[i].NextOffset {
		c.cov.Inc("storage:aborted-listed-across-segments")
	}
}

// count counts what ops of the kinds in the kinds bit set did to log id's segments.
func (c *countingExecutor) count(id disk.LogID, kinds uint64, before, after diskexec.Shape) {
	has := func(k disk.Kind) bool { return kinds&(1<<uint(k)) != 0 }
	inc := func(name string) {
		c.cov.Inc("storage:" + name)
		c.cov.Inc("storage:" + name + logKindSuffix(id))
	}
	if has(disk.Append) && after.Segments > before.Segments && after.EndOffset > before.EndOffset {
		inc("segment-roll")
	}
	if has(disk.Truncate) && after.Segments < before.Segments && after.EndOffset < before.EndOffset {
		inc("truncate-across-segments")
	}
	if has(disk.Retain) && after.FirstBase > before.FirstBase {
		inc("retention-deleted-segments")
	}
	if has(disk.Clean) && after.Segments < before.Segments && after.EndOffset == before.EndOffset {
		inc("clean-merged-segments")
	}
	if has(disk.DeleteBelow) && after.StartOffset > before.StartOffset {
		inc("delete-below")
		if after.FirstBase > before.FirstBase {
			c.cov.Inc("storage:delete-below-segments")
		}
	}
	if has(disk.Reset) {
		inc("reset")
		if before.Segments > 1 {
			// A log restarted elsewhere (a follower below its leader's log start, a
			// quorum follower installing a snapshot) is truncated whole.
			inc("truncate-across-segments")
		}
	}
}

// logKindSuffix names the kind of a log for counters.
func logKindSuffix(id disk.LogID) string {
	if id == disk.MetadataLog {
		return ":metadata"
	}
	if t, _, ok := disk.ParsePartitionLog(id); ok && t == coreOffsetsTopic {
		return ":offsets"
	}
	return ":data"
}
