package storage

// SegmentCount returns how many segments the log holds (at least one).
func (l *Log) SegmentCount() int { return len(l.segments) }

// FirstBase returns the base offset of the log's first segment.
func (l *Log) FirstBase() int64 { return l.segments[0].base }
