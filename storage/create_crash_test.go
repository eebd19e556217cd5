package storage_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/storage"
)

// TestCreateCrashAtEveryStep stops the creation of a log, its first appends (each
// rolling a segment) and their Sync after each disk change in turn, then crashes:
// recovery always finds a log that starts at 0 and holds a prefix of the batches, all
// of them once Sync returned, and a log whose OpenLog returned keeps its directory.
func TestCreateCrashAtEveryStep(t *testing.T) {
	cfg := storage.LogConfig{SegmentBytesMax: 300}
	var batches [][]byte
	for next := int64(0); len(batches) < 5; {
		b := storage.MakeBatch(t, next, 3, 40, 0, 0)
		batches = append(batches, b)
		next = storage.NextOffsetAfter(t, b)
	}
	sawCreated, sawLost := false, false
	for budget, finished := 0, false; !finished; budget++ {
		if budget > 200 {
			t.Fatal("creation and sync never finished")
		}
		for seed := range uint64(6) {
			disk := disksim.New(rand.New(rand.NewPCG(seed, 7)), disksim.Config{})
			fsys := &budgetFS{FS: disk, left: budget}
			opened, synced, appended := false, false, 0
			if l, err := storage.OpenLog(fsys, "t-0", cfg); err == nil {
				opened = true
				sawCreated = sawCreated || l.Recovery().DirCreated
				for _, b := range batches {
					if l.Append(b) != nil {
						break
					}
					appended++
				}
				synced = appended == len(batches) && l.Sync() == nil
			} else if !errors.Is(err, errBudget) {
				t.Fatalf("budget %d: open: %v", budget, err)
			}
			finished = finished || synced
			img := disk.Crash(rand.New(rand.NewPCG(seed, uint64(budget))))
			if _, err := img.Stat("t-0"); opened && err != nil {
				t.Fatalf("budget %d seed %d: the created log's directory was lost: %v", budget, seed, err)
			}
			l2 := openLog(t, img, cfg)
			if l2.StartOffset() != 0 {
				t.Fatalf("budget %d seed %d: log starts at %d after crash, want 0 (%+v)", budget, seed, l2.StartOffset(), l2.Recovery())
			}
			got, err := l2.Read(0, l2.EndOffset(), 1<<20)
			if err != nil {
				t.Fatalf("budget %d seed %d: read: %v", budget, seed, err)
			}
			k := 0
			for k < len(batches) && len(slices.Concat(batches[:k+1]...)) <= len(got) {
				k++
			}
			if !bytes.Equal(got, slices.Concat(batches[:k]...)) {
				t.Fatalf("budget %d seed %d: log holds %d bytes, not a prefix of the batches", budget, seed, len(got))
			}
			if synced && k != len(batches) {
				t.Fatalf("budget %d seed %d: %d of %d synced batches survived", budget, seed, k, len(batches))
			}
			sawLost = sawLost || k < appended
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !sawCreated || !sawLost {
		t.Fatalf("no crash lost unsynced batches of a created log (created %v, lost %v)", sawCreated, sawLost)
	}
}
