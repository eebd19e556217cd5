package storage_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/disksim"
	"github.com/seedlog/seedlog/storage"
)

func openLog(t *testing.T, fsys storage.FS, cfg storage.LogConfig) *storage.Log {
	t.Helper()
	l, err := storage.OpenLog(fsys, "t-0", cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// budgetFS fails every change once its budget of changes is spent, as a crash would
// stop them.
type budgetFS struct {
	storage.FS
	left int
}

var errBudget = fmt.Errorf("budget spent: %w", syscall.EIO)

func (b *budgetFS) spend() error {
	if b.left <= 0 {
		return errBudget
	}
	b.left--
	return nil
}

func (b *budgetFS) Create(name string) (storage.File, error) {
	if err := b.spend(); err != nil {
		return nil, err
	}
	f, err := b.FS.Create(name)
	return budgetFile{f, b}, err
}

func (b *budgetFS) Open(name string) (storage.File, error) {
	f, err := b.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return budgetFile{f, b}, nil
}

func (b *budgetFS) Remove(name string) error {
	if err := b.spend(); err != nil {
		return err
	}
	return b.FS.Remove(name)
}

func (b *budgetFS) Rename(o, n string) error {
	if err := b.spend(); err != nil {
		return err
	}
	return b.FS.Rename(o, n)
}

func (b *budgetFS) SyncDir(dir string) error {
	if err := b.spend(); err != nil {
		return err
	}
	return b.FS.SyncDir(dir)
}

type budgetFile struct {
	storage.File
	b *budgetFS
}

func (f budgetFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.b.spend(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f budgetFile) Sync() error {
	if err := f.b.spend(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f budgetFile) Truncate(size int64) error {
	if err := f.b.spend(); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

// keyedLog writes rounds of keyed overwrites into a log on a fresh simulated disk, with
// an aborted-transactions index entry at each segment's first offset, synced and closed,
// and returns the disk, what was written and the entries.
func keyedLog(t *testing.T, cfg storage.LogConfig, seed uint64) (*disksim.FS, []storage.Keyed, []disk.AbortedTxn) {
	t.Helper()
	fsys := disksim.New(rand.New(rand.NewPCG(seed, seed)), disksim.Config{})
	l := openLog(t, fsys, cfg)
	written := storage.WriteKeys(t, l, 8, 12, 3)
	var entries []disk.AbortedTxn
	for _, s := range l.Segments() {
		entries = append(entries, disk.AbortedTxn{ProducerID: 1, FirstOffset: s.BaseOffset, MarkerOffset: s.BaseOffset, StableOffset: s.BaseOffset + 1})
	}
	if err := errors.Join(l.SetAborted(0, entries), l.Sync(), l.Close()); err != nil {
		t.Fatal(err)
	}
	return fsys, written, entries
}

// checkAbortedKept fails unless l's aborted-transactions index holds exactly entries.
func checkAbortedKept(t *testing.T, what string, l *storage.Log, entries []disk.AbortedTxn) {
	t.Helper()
	if got, err := l.Aborted(0, math.MaxInt64); err != nil || !slices.Equal(got, entries) {
		t.Fatalf("%s: aborted %v, %v; want %v", what, got, err, entries)
	}
}

// TestCleanCrashAtEveryStep stops a pass after each of its disk changes in turn,
// crashes, and checks that recovery leaves either the old segments or the new ones:
// every key's latest record at its offset, every record read one written there.
func TestCleanCrashAtEveryStep(t *testing.T) {
	cfg := storage.LogConfig{SegmentBytesMax: 1024, IndexIntervalBytes: 128}
	base, written, entries := keyedLog(t, cfg, 1)
	finished, swapsFinished := false, 0
	for budget := 0; !finished; budget++ {
		for seed := range uint64(3) {
			fsys := &budgetFS{FS: base.Clone(), left: 1 << 30}
			l := openLog(t, fsys, cfg)
			fsys.left = budget
			_, err := l.Clean(l.EndOffset(), storage.TestPolicy)
			if err == nil {
				finished = true
			} else if !errors.Is(err, errBudget) {
				t.Fatalf("budget %d: clean: %v", budget, err)
			}
			img := fsys.FS.(*disksim.FS).Crash(rand.New(rand.NewPCG(seed, 2)))
			l2 := openLog(t, img, cfg)
			swapsFinished += l2.Recovery().CleanSwapsFinished
			if rec := l2.Recovery(); rec.CutBelowRecoveryPoint || len(rec.Fenced) > 0 {
				t.Fatalf("budget %d seed %d: recovery found damage: %+v", budget, seed, rec)
			}
			if l2.EndOffset() != written[len(written)-1].Offset+1 {
				t.Fatalf("budget %d seed %d: log ends at %d", budget, seed, l2.EndOffset())
			}
			storage.CheckCompacted(t, storage.ReadKeyed(t, l2), written, false)
			checkAbortedKept(t, fmt.Sprintf("budget %d seed %d", budget, seed), l2, entries)
			// The next pass completes what the crash cut short.
			if _, err := l2.Clean(l2.EndOffset(), storage.TestPolicy); err != nil {
				t.Fatalf("budget %d seed %d: clean after recovery: %v", budget, seed, err)
			}
			storage.CheckCompacted(t, storage.ReadKeyed(t, l2), written, false)
		}
		if budget > 500 {
			t.Fatal("the pass never finished")
		}
	}
	if swapsFinished == 0 {
		t.Fatal("no crash fell between a swap's commit and its end")
	}
}

// TestCleanCrashBetweenSteps crashes a pass carried out in small steps after each step
// in turn: the run being written is only ever a .cleaning file, which recovery removes,
// and what was swapped in before stays whole.
func TestCleanCrashBetweenSteps(t *testing.T) {
	cfg := storage.LogConfig{SegmentBytesMax: 1024, IndexIntervalBytes: 128}
	base, written, entries := keyedLog(t, cfg, 3)
	const stepBytes = 300
	for steps := 1; ; steps++ {
		fsys := base.Clone()
		l := openLog(t, fsys, cfg)
		more := true
		for range steps {
			rep, err := l.CleanStep(l.EndOffset(), storage.TestPolicy, stepBytes)
			if err != nil {
				t.Fatalf("step: %v", err)
			}
			more = rep.More
		}
		img := fsys.Crash(rand.New(rand.NewPCG(uint64(steps), 4)))
		l2 := openLog(t, img, cfg)
		if rec := l2.Recovery(); rec.CutBelowRecoveryPoint || len(rec.Fenced) > 0 {
			t.Fatalf("%d steps: recovery found damage: %+v", steps, rec)
		}
		names, err := img.List("t-0")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if strings.HasSuffix(n, ".cleaning") || strings.HasSuffix(n, storage.SwapSuffix) {
				t.Fatalf("%d steps: %s left after recovery", steps, n)
			}
		}
		storage.CheckCompacted(t, storage.ReadKeyed(t, l2), written, false)
		checkAbortedKept(t, fmt.Sprintf("%d steps", steps), l2, entries)
		if _, err := l2.Clean(l2.EndOffset(), storage.TestPolicy); err != nil {
			t.Fatalf("%d steps: clean after recovery: %v", steps, err)
		}
		storage.CheckCompacted(t, storage.ReadKeyed(t, l2), written, false)
		if !more {
			if steps < 5 {
				t.Fatalf("the pass took %d steps of %d bytes: nothing crashed mid-pass", steps, stepBytes)
			}
			return
		}
	}
}
