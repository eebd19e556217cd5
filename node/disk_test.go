package node

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/storage"
)

// stallingFS holds every fsync of a file under prefix until release is closed.
type stallingFS struct {
	storage.FS
	prefix  string
	release chan struct{}
}

type stallingFile struct {
	storage.File
	release chan struct{}
}

func (s *stallingFS) Create(name string) (storage.File, error) {
	f, err := s.FS.Create(name)
	if err != nil || !strings.HasPrefix(name, s.prefix) {
		return f, err
	}
	return stallingFile{File: f, release: s.release}, nil
}

func (f stallingFile) Sync() error {
	<-f.release
	return f.File.Sync()
}

// The quorum's ops never wait behind the partitions': while a partition's fsync hangs,
// the quorum state is written and its completion returns; the partition's follows once
// its fsync does.
func TestQuorumLaneRunsBesideDataLane(t *testing.T) {
	part := disk.PartitionLog("p", 0)
	fsys := &stallingFS{FS: storage.NewOSFS(t.TempDir()), prefix: string(part) + "/", release: make(chan struct{})}
	exec, _, err := diskexec.Open(fsys, diskexec.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dones, quit := make(chan []disk.Done, 16), make(chan struct{})
	w := newDiskWorker(exec, dones, quit, newMetrics())
	var running sync.WaitGroup
	w.start(func(f func()) {
		running.Add(1)
		go func() {
			defer running.Done()
			f()
		}()
	})
	released := false
	defer func() {
		if !released {
			close(fsys.release)
		}
		close(quit)
		running.Wait()
		w.close()
	}()

	done := map[disk.OpID]disk.Done{}
	waitFor := func(id disk.OpID) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for done[id].ID != id {
			select {
			case ds := <-dones:
				for _, d := range ds {
					if d.Err != nil {
						t.Fatalf("op #%d: %v", d.ID, d.Err)
					}
					done[d.ID] = d
				}
			case <-deadline:
				t.Fatalf("op #%d not done after 10s; done: %v", id, done)
			}
		}
	}
	w.submit([]disk.Op{{ID: 1, Kind: disk.CreateLog, Log: part}})
	waitFor(1)
	w.submit([]disk.Op{
		{ID: 2, Kind: disk.WriteFile, Name: string(part) + "/topic-id", Data: []byte("0123456789abcdef")},
		{ID: 3, Kind: disk.WriteFile, Name: "quorum-state", Data: []byte("{}")},
	})
	waitFor(3)
	if _, ok := done[2]; ok {
		t.Fatal("the partition's write completed while its fsync was held")
	}
	close(fsys.release)
	released = true
	waitFor(2)
}
