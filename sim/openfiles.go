package sim

import (
	"fmt"
	"strings"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/storage"
)

// Open segment files. In half the seeds a node's logs share a small file cache
// (storage.FileCache, the node's log.open.files.max), so that segment files are closed
// and opened again as logs are read, written and synced, under crashes and disk faults.
// After every disk step of a node the open-files checker counts the segment (.log)
// files open on its disk, through a wrapper of the FS its executor runs on: they must be
// the files the cache counts as open, and no more than its bound besides the files
// written since their last sync (and the one last used). The metadata log keeps its own
// files open outside the cache (it runs in the quorum's lane), so they are not counted.

// openFilesPercent is the share of seeds, in percent, with a file cache.
const openFilesPercent = 50

// drawOpenFiles draws the file cache's bound from its own stream: the least the cache
// accepts, to a few times that, so that a node's partitions outnumber it.
func drawOpenFiles(seed uint64, c *Config) {
	rng := Stream(seed, streamDataConfig, 40)
	if rng.IntN(100) < openFilesPercent {
		c.OpenFilesMax = storage.FileCacheBoundMin + rng.IntN(3*storage.FileCacheBoundMin)
	}
}

// segmentFiles counts the segment files open on an FS.
type segmentFiles struct {
	storage.FS
	open int
}

type countedSegmentFile struct {
	storage.File
	c      *segmentFiles
	closed bool
}

func (s *segmentFiles) count(name string, f storage.File, err error) (storage.File, error) {
	if err != nil || !strings.HasSuffix(name, storage.LogFileSuffix) || strings.HasPrefix(name, string(disk.MetadataLog)+"/") {
		return f, err
	}
	s.open++
	return &countedSegmentFile{File: f, c: s}, nil
}

func (s *segmentFiles) Create(name string) (storage.File, error) {
	f, err := s.FS.Create(name)
	return s.count(name, f, err)
}

func (s *segmentFiles) Open(name string) (storage.File, error) {
	f, err := s.FS.Open(name)
	return s.count(name, f, err)
}

func (f *countedSegmentFile) Close() error {
	err := f.File.Close()
	if !f.closed && err == nil {
		f.closed = true
		f.c.open--
	}
	return err
}

// openFilesFS returns the FS a node incarnation's executor runs on, and the file cache
// its logs share (nil in seeds without one).
func (n *simNode) openFilesFS(cfg storage.LogConfig) storage.FS {
	n.files, n.segmentFiles = cfg.Files, nil
	if cfg.Files == nil {
		return n.fs
	}
	n.segmentFiles = &segmentFiles{FS: n.fs}
	return n.segmentFiles
}

// checkOpenFiles checks the segment files open on n's disk against its file cache.
func (n *simNode) checkOpenFiles() {
	if n.files == nil || !n.up {
		return
	}
	w := n.w
	s := n.files.Stats()
	switch {
	case n.segmentFiles.open != s.Open:
		w.fail("open-files", n.spec.ID, "node %d has %d segment files open on its disk, its file cache counts %d (%d pinned)",
			n.spec.ID, n.segmentFiles.open, s.Open, s.Pinned)
	case s.Open > max(n.files.Bound(), s.Pinned+1):
		w.fail("open-files", n.spec.ID, "node %d's file cache holds %d segment files open, %d of them written since their last sync, above its bound of %d",
			n.spec.ID, s.Open, s.Pinned, n.files.Bound())
	default:
		w.cov.Add("storage:file-reopened", s.Opens-n.fileOpens)
		n.fileOpens = s.Opens
	}
}

func (c *Config) openFilesString() string {
	if c.OpenFilesMax == 0 {
		return ""
	}
	return fmt.Sprintf("; log.open.files.max=%d", c.OpenFilesMax)
}
