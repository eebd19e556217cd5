package sim

import (
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// The shared executor over the seed's log configuration (Config.Wide), with coverage
// of what its ops did to segments: a roll, retention or DeleteRecords deleting whole
// segments, a truncation removing whole segments (a Truncate, or a Reset of a log of
// several segments). Each counts as storage:NAME, and
// by the log's kind as storage:NAME:data, storage:NAME:offsets or
// storage:NAME:metadata.

// openDiskFor returns the executor opener of a run: the default one, over the seed's
// segment sizes and ages, counting into cov.
func openDiskFor(cfg *Config, cov Coverage) OpenDisk {
	lc := storage.LogConfig{SegmentBytesMax: cfg.Wide.SegmentBytes, SegmentAgeMax: cfg.Wide.SegmentAge}
	return func(fsys storage.FS) (Executor, disk.Recovered, error) {
		x, rec, err := diskexec.Open(fsys, diskexec.Config{Log: lc})
		if err != nil {
			return nil, rec, err
		}
		return &countingExecutor{x: x, cov: cov}, rec, nil
	}
}

// countingExecutor counts what ops did to segments.
type countingExecutor struct {
	x   *diskexec.Executor
	cov Coverage
}

func (c *countingExecutor) Close() error { return c.x.Close() }

func (c *countingExecutor) Do(op disk.Op) disk.Done {
	switch op.Kind {
	case disk.Append, disk.Truncate, disk.Retain, disk.DeleteBelow, disk.Reset:
	default:
		return c.x.Do(op)
	}
	before, ok := c.x.Shape(op.Log)
	done := c.x.Do(op)
	after, ok2 := c.x.Shape(op.Log)
	if !ok || !ok2 || done.Err != nil {
		return done
	}
	name := ""
	switch op.Kind {
	case disk.Append:
		if after.Segments > before.Segments {
			name = "segment-roll"
		}
	case disk.Truncate:
		if after.Segments < before.Segments {
			name = "truncate-across-segments"
		}
	case disk.Retain:
		if after.FirstBase > before.FirstBase {
			name = "retention-deleted-segments"
		}
	case disk.DeleteBelow:
		if after.StartOffset > before.StartOffset {
			name = "delete-below"
			if after.FirstBase > before.FirstBase {
				c.cov.Inc("storage:delete-below-segments")
			}
		}
	case disk.Reset:
		name = "reset"
		if before.Segments > 1 {
			// A log restarted elsewhere (a follower below its leader's log start, a
			// quorum follower installing a snapshot) is truncated whole.
			c.cov.Inc("storage:truncate-across-segments")
			c.cov.Inc("storage:truncate-across-segments" + logKindSuffix(op.Log))
		}
	}
	if name != "" {
		c.cov.Inc("storage:" + name)
		c.cov.Inc("storage:" + name + logKindSuffix(op.Log))
	}
	return done
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
