package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/partition"
)

// Files of the data directory that belong to the process rather than the core.
const (
	lockFile = "seedlog.lock"
	// metaFile pins the directory to one node of one cluster, as Kafka's
	// meta.properties does: starting node 2 on node 1's directory would otherwise replay
	// another node's votes and logs as its own.
	metaFile = "meta.properties"
)

// dataLock is an exclusive lock on a data directory, held while the node runs.
type dataLock struct{ f *os.File }

func (l *dataLock) release() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// openDataDir creates the data directory if needed, locks it and checks (or on first
// use, writes) its identity.
func openDataDir(cfg Config) (*dataLock, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory (log.dirs): %w", err)
	}
	f, err := os.OpenFile(filepath.Join(cfg.DataDir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory (log.dirs): %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another seedlog process (log.dirs)", cfg.DataDir)
	}
	l := &dataLock{f: f}
	if err := checkIdentity(cfg); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

func checkIdentity(cfg Config) error {
	want := []byte(fmt.Sprintf("node.id=%d\ncluster.id=%s\n", cfg.NodeID, cfg.ClusterID))
	path := filepath.Join(cfg.DataDir, metaFile)
	have, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return writeDurably(path, want)
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !bytes.Equal(have, want) {
		return fmt.Errorf("data directory %s belongs to another node or cluster (%s says %q; this node is node.id=%d cluster.id=%s)",
			cfg.DataDir, metaFile, bytes.TrimSpace(have), cfg.NodeID, cfg.ClusterID)
	}
	return nil
}

func writeDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// logFiles are the small files the core writes inside a log's directory.
var logFiles = []func(disk.LogID) string{
	func(id disk.LogID) string { return string(id) + "/topic-id" },
	partition.SnapshotFile,
}

// addLogFiles adds to rec the small files the core wrote inside log directories.
// diskexec.Open returns only the files at the top of the data directory; without these
// the core takes every recovered log for one of a replaced topic and deletes it.
func addLogFiles(dataDir string, rec *disk.Recovered) {
	for _, l := range rec.Logs {
		for _, name := range logFiles {
			n := name(l.ID)
			if _, ok := rec.Files[n]; ok {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(n))); err == nil {
				rec.Files[n] = b
			}
		}
	}
}
