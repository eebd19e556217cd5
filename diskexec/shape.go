package diskexec

import (
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/storage"
)

// Shape describes how a log lies in segments: enough for the simulator to count the
// ops that rolled, deleted or truncated whole segments.
type Shape struct {
	Segments    int
	FirstBase   int64
	StartOffset int64
	EndOffset   int64
}

// Shape returns the shape of log id; false when the executor holds no such log.
func (e *Executor) Shape(id disk.LogID) (Shape, bool) {
	l := e.logs[id]
	if l == nil {
		return Shape{}, false
	}
	return Shape{Segments: l.SegmentCount(), FirstBase: l.FirstBase(), StartOffset: l.StartOffset(), EndOffset: l.EndOffset()}, true
}

// Segments describes the segments of log id, oldest first; nil when the executor holds
// no such log.
func (e *Executor) Segments(id disk.LogID) []storage.SegmentInfo {
	if l := e.logs[id]; l != nil {
		return l.Segments()
	}
	return nil
}

// Fences lists the fenced ranges of log id; nil when the executor holds no such log.
func (e *Executor) Fences(id disk.LogID) []disk.Fence {
	if l := e.logs[id]; l != nil {
		return l.Fences()
	}
	return nil
}
