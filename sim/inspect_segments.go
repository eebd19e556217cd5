package sim

import (
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/storage"
)

// Segments describes node id's segments of tp on its disk executor, oldest first: nil
// when the node is down, holds no replica of tp, or runs an executor other than
// diskexec's.
func (v View) Segments(id int32, tp TopicPartition) []storage.SegmentInfo {
	n := v.w.node(id)
	if n == nil || !n.up {
		return nil
	}
	if x := executorOf(n.exec); x != nil {
		return x.Segments(disk.PartitionLog(tp.Topic, tp.Partition))
	}
	return nil
}
