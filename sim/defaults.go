package sim

import (
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// The simulator runs the node on the same disk executor and served-versions table as the
// real node.
func init() {
	DefaultOpenDisk = openDiskexec
	DefaultServed = kafka.Served
}

// openDiskexec recovers a node's disk with the shared executor.
func openDiskexec(fsys storage.FS, cfg storage.LogConfig) (Executor, disk.Recovered, error) {
	x, rec, err := diskexec.Open(fsys, diskexec.Config{Log: cfg})
	if err != nil {
		return nil, rec, err
	}
	return x, rec, nil
}
