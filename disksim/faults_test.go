package disksim

import (
	"bytes"
	"errors"
	"math/bits"
	"syscall"
	"testing"
	"time"
)

var errIO = syscall.EIO

func TestENOSPCAtCapacity(t *testing.T) {
	f := newFS(t, 1, Config{Faults: Faults{CapacityBytes: 10000}})
	h := create(t, f, "a")
	writeAt(t, h, pattern(1, 8000), 0)
	n, err := h.WriteAt(pattern(2, 3000), 8000)
	wantErr(t, err, syscall.ENOSPC, "write past capacity")
	if n != 0 {
		t.Fatalf("failed write reported %d bytes", n)
	}
	if size, _ := h.Size(); size != 8000 {
		t.Fatalf("failed write changed the size to %d", size)
	}
	writeAt(t, h, pattern(3, 3000), 5000) // overwrite plus 0 growth: 8000 total
	writeAt(t, h, pattern(3, 2000), 8000) // exactly at capacity
	if _, err := h.WriteAt([]byte{1}, 10000); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("one byte over capacity: %v", err)
	}
	// A second file shares the capacity; space comes back when the file goes.
	g := create(t, f, "b")
	if _, err := g.WriteAt([]byte{1}, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second file: %v", err)
	}
	must(t, h.Truncate(5000))
	writeAt(t, g, pattern(4, 5000), 0)
	must(t, h.Close())
	must(t, f.Remove("a"))
	writeAt(t, g, pattern(5, 5000), 5000)
	if s := f.Stats(); s.ENOSPCCapacity != 3 || s.ENOSPCRandom != 0 {
		t.Fatalf("stats %+v", s)
	}
	must(t, g.Close())
	checked(t, f)
}

func TestProbabilisticFaults(t *testing.T) {
	f := newFS(t, 1, Config{Faults: Faults{WriteEIOProb: 1}})
	h := create(t, f, "a")
	_, err := h.WriteAt([]byte("x"), 0)
	wantErr(t, err, syscall.EIO, "write with WriteEIOProb 1")
	if size, _ := h.Size(); size != 0 {
		t.Fatal("failed write wrote")
	}
	f.SetFaults(Faults{ENOSPCProb: 1})
	_, err = h.WriteAt([]byte("x"), 0)
	wantErr(t, err, syscall.ENOSPC, "write with ENOSPCProb 1")
	f.SetFaults(Faults{SyncEIOProb: 1, SyncDirEIOProb: 1})
	wantErr(t, h.Sync(), syscall.EIO, "sync with SyncEIOProb 1")
	wantErr(t, f.SyncDir("."), syscall.EIO, "syncdir with SyncDirEIOProb 1")
	// The failed SyncDir made nothing durable.
	if c := f.Clone().CrashWith(seeded(1), CrashDropAll()); exists(t, c, "a") {
		t.Fatal("a failed SyncDir made an entry durable")
	}
	f.SetFaults(Faults{})
	writeAt(t, h, []byte("x"), 0)
	must(t, h.Sync())
	must(t, f.SyncDir("."))
	want := Stats{WriteEIO: 1, ENOSPCRandom: 1, SyncEIO: 1, SyncDirEIO: 1}
	if s := f.Stats(); s != want {
		t.Fatalf("stats %+v, want %+v", s, want)
	}

	// Rates in between are honoured roughly.
	f.SetFaults(Faults{WriteEIOProb: 0.25})
	failures := 0
	for range 4000 {
		if _, err := h.WriteAt([]byte("y"), 0); err != nil {
			failures++
		}
	}
	if failures < 800 || failures > 1200 {
		t.Fatalf("%d of 4000 writes failed at probability 0.25", failures)
	}
}

func TestOneShotFaults(t *testing.T) {
	f := newFS(t, 1, Config{})
	h := create(t, f, "a")
	must(t, f.FailNextWrite("a"))
	_, err := h.WriteAt([]byte("x"), 0)
	wantErr(t, err, syscall.EIO, "armed write")
	writeAt(t, h, []byte("x"), 0)

	// The fault follows the file, not the name.
	must(t, f.FailNextSync("a"))
	must(t, f.Rename("a", "b"))
	wantErr(t, h.Sync(), syscall.EIO, "armed sync")
	must(t, h.Sync())
	if s := f.Stats(); s.WriteEIO != 1 || s.SyncEIO != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReadCorruptionIsNotPersistent(t *testing.T) {
	f := newFS(t, 1, Config{Faults: Faults{ReadCorruptProb: 1}})
	data := pattern(1, 3000)
	writeFile(t, f, "a", data, true)
	h := open(t, f, "a")
	for range 20 {
		got := make([]byte, len(data))
		h.ReadAt(got, 0)
		if d := bitDiff(got, data); d != 1 {
			t.Fatalf("corrupted read differs in %d bits, want 1", d)
		}
	}
	f.SetFaults(Faults{})
	got := make([]byte, len(data))
	h.ReadAt(got, 0)
	if !bytes.Equal(got, data) {
		t.Fatal("read corruption reached the stored bytes")
	}
	if c := f.Stats().ReadCorruptions; c != 20 {
		t.Fatalf("ReadCorruptions = %d", c)
	}
}

func bitDiff(a, b []byte) int {
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

func TestCorruptAtRest(t *testing.T) {
	f := newFS(t, 1, Config{})
	data := pattern(1, 2*BlockSize)
	writeFile(t, f, "a", data, true)
	must(t, f.SyncDir("."))
	// An unsynced tail, so both a clean and a dirty block are hit.
	h := open(t, f, "a")
	writeAt(t, h, pattern(9, 100), BlockSize)
	copy(data[BlockSize:], pattern(9, 100))
	must(t, h.Close())

	must(t, f.CorruptAtRest("a", BlockSize-3, 6))
	checked(t, f)
	got := contents(t, f, "a")
	for i := range got {
		diff := bits.OnesCount8(got[i] ^ data[i])
		inRange := i >= BlockSize-3 && i < BlockSize+3
		if (inRange && diff != 1) || (!inRange && diff != 0) {
			t.Fatalf("byte %d differs in %d bits", i, diff)
		}
	}
	// The durable image is corrupted too.
	c := f.CrashWith(seeded(1), CrashDropAll())
	durable := contents(t, c, "a")
	if bitDiff(durable[:BlockSize], pattern(1, BlockSize)) != 3 {
		t.Fatal("durable image not corrupted")
	}
	if s := c.Stats(); s.AtRestCorruptions != 1 || s.AtRestCorruptBytes != 6 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCorruptRandom(t *testing.T) {
	f := newFS(t, 1, Config{})
	if _, ok := f.CorruptRandom(seeded(1)); ok {
		t.Fatal("corrupted an empty FS")
	}
	must(t, f.MkdirAll("d"))
	writeFile(t, f, "d/a", pattern(1, 5000), true)
	writeFile(t, f, "b", pattern(2, 300), true)
	writeFile(t, f, "empty", nil, true)
	hit := map[string]bool{}
	rng := seeded(2)
	for range 50 {
		before := map[string][]byte{"d/a": contents(t, f, "d/a"), "b": contents(t, f, "b")}
		c, ok := f.CorruptRandom(rng)
		if !ok || c.Bytes < 1 || c.Bytes > corruptBytesMax {
			t.Fatalf("CorruptRandom = %v, %v", c, ok)
		}
		hit[c.Name] = true
		got := contents(t, f, c.Name)
		for i := range got {
			want := 0
			if int64(i) >= c.Off && int64(i) < c.Off+int64(c.Bytes) {
				want = 1
			}
			if bits.OnesCount8(got[i]^before[c.Name][i]) != want {
				t.Fatalf("%v: byte %d wrong", c, i)
			}
		}
	}
	if !hit["d/a"] || !hit["b"] || hit["empty"] {
		t.Fatalf("files hit: %v", hit)
	}
	checked(t, f)
}

func TestLatency(t *testing.T) {
	var zero Config
	f := newFS(t, 1, zero)
	if d := f.Latency(OpSync, 1<<20); d != 0 {
		t.Fatalf("zero model gave %v", d)
	}
	f = newFS(t, 1, Config{Latency: LatencyModel{Write: LatencyDist{Base: time.Millisecond, PerKiB: time.Microsecond}}})
	if d := f.Latency(OpWrite, 4096); d != time.Millisecond+4*time.Microsecond {
		t.Fatalf("base+per-KiB = %v", d)
	}
	f = newFS(t, 1, Config{Latency: LatencyModel{Sync: LatencyDist{Base: time.Millisecond, Jitter: time.Millisecond,
		TailProb: 0.05, TailMean: 50 * time.Millisecond, TailMax: 100 * time.Millisecond}}})
	g := newFS(t, 1, f.Config())
	tails := 0
	for range 10000 {
		d := f.Latency(OpSync, 0)
		if d != g.Latency(OpSync, 0) {
			t.Fatal("same seed, different latency")
		}
		if d < time.Millisecond || d > 102*time.Millisecond {
			t.Fatalf("latency %v out of bounds", d)
		}
		if d > 2*time.Millisecond {
			tails++
		}
	}
	if tails < 300 || tails > 700 {
		t.Fatalf("%d tail latencies in 10000 at probability 0.05", tails)
	}
}

func TestInvalidConfigPanics(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no block weight": {Crash: CrashConfig{EntryKeepProb: 1}},
		"probability > 1": {Faults: Faults{SyncEIOProb: 2}},
		"negative":        {Latency: LatencyModel{Read: LatencyDist{Base: -1}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: New did not panic", name)
				}
			}()
			New(seeded(1), cfg)
		}()
	}
}
