package disksim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// crashBoth crashes two clones of f, one keeping and one dropping everything unsynced.
func crashBoth(t *testing.T, f *FS) (kept, dropped *FS) {
	t.Helper()
	c := f.Clone()
	kept = f.CrashWith(seeded(100), CrashKeepAll())
	dropped = c.CrashWith(seeded(100), CrashDropAll())
	checked(t, kept)
	checked(t, dropped)
	return kept, dropped
}

func TestDurabilityTruthTable(t *testing.T) {
	type outcome struct {
		exists bool
		data   string
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T, f *FS)
		file    string
		kept    outcome
		dropped outcome
	}{
		{
			name: "write sync syncdir survives",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("durable"), true)
				must(t, f.SyncDir("."))
			},
			file: "a", kept: outcome{true, "durable"}, dropped: outcome{true, "durable"},
		},
		{
			name: "unsynced write is gone when dropped",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", nil, false)
				must(t, f.SyncDir("."))
				h := open(t, f, "a")
				writeAt(t, h, []byte("volatile"), 0)
				must(t, h.Close())
			},
			file: "a", kept: outcome{true, "volatile"}, dropped: outcome{true, ""},
		},
		{
			name: "unsynced overwrite reverts to synced content",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("first"), true)
				must(t, f.SyncDir("."))
				h := open(t, f, "a")
				writeAt(t, h, []byte("FIRST and more"), 0)
				must(t, h.Close())
			},
			file: "a", kept: outcome{true, "FIRST and more"}, dropped: outcome{true, "first"},
		},
		{
			name: "create without syncdir vanishes",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("synced data, unsynced name"), true)
			},
			file: "a", kept: outcome{true, "synced data, unsynced name"}, dropped: outcome{false, ""},
		},
		{
			name: "rename without syncdir reverts: new name absent",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "tmp", []byte("v2"), true)
				must(t, f.SyncDir("."))
				must(t, f.Rename("tmp", "final"))
			},
			file: "final", kept: outcome{true, "v2"}, dropped: outcome{false, ""},
		},
		{
			name: "rename without syncdir reverts: old name present",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "tmp", []byte("v2"), true)
				must(t, f.SyncDir("."))
				must(t, f.Rename("tmp", "final"))
			},
			file: "tmp", kept: outcome{false, ""}, dropped: outcome{true, "v2"},
		},
		{
			name: "rename over a file without syncdir keeps the old target",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "final", []byte("v1"), true)
				writeFile(t, f, "tmp", []byte("v2"), true)
				must(t, f.SyncDir("."))
				must(t, f.Rename("tmp", "final"))
			},
			file: "final", kept: outcome{true, "v2"}, dropped: outcome{true, "v1"},
		},
		{
			name: "remove without syncdir resurrects",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("zombie"), true)
				must(t, f.SyncDir("."))
				must(t, f.Remove("a"))
			},
			file: "a", kept: outcome{false, ""}, dropped: outcome{true, "zombie"},
		},
		{
			name: "create over existing name without syncdir brings the old file back",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("old"), true)
				must(t, f.SyncDir("."))
				writeFile(t, f, "a", []byte("new"), true)
			},
			file: "a", kept: outcome{true, "new"}, dropped: outcome{true, "old"},
		},
		{
			name: "mkdir without parent syncdir loses the synced subtree",
			setup: func(t *testing.T, f *FS) {
				must(t, f.MkdirAll("d"))
				writeFile(t, f, "d/a", []byte("inside"), true)
				must(t, f.SyncDir("d"))
			},
			file: "d/a", kept: outcome{true, "inside"}, dropped: outcome{false, ""},
		},
		{
			name: "mkdir with parent syncdir keeps the subtree",
			setup: func(t *testing.T, f *FS) {
				must(t, f.MkdirAll("d"))
				must(t, f.SyncDir("."))
				writeFile(t, f, "d/a", []byte("inside"), true)
				must(t, f.SyncDir("d"))
			},
			file: "d/a", kept: outcome{true, "inside"}, dropped: outcome{true, "inside"},
		},
		{
			name: "unsynced truncate reverts",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("0123456789"), true)
				must(t, f.SyncDir("."))
				h := open(t, f, "a")
				must(t, h.Truncate(4))
				must(t, h.Close())
			},
			file: "a", kept: outcome{true, "0123"}, dropped: outcome{true, "0123456789"},
		},
		{
			name: "synced truncate survives",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("0123456789"), true)
				must(t, f.SyncDir("."))
				h := open(t, f, "a")
				must(t, h.Truncate(4))
				must(t, h.Sync())
				must(t, h.Close())
			},
			file: "a", kept: outcome{true, "0123"}, dropped: outcome{true, "0123"},
		},
		{
			name: "truncate then rewrite, unsynced",
			setup: func(t *testing.T, f *FS) {
				writeFile(t, f, "a", []byte("0123456789"), true)
				must(t, f.SyncDir("."))
				h := open(t, f, "a")
				must(t, h.Truncate(2))
				writeAt(t, h, []byte("ab"), 2)
				must(t, h.Close())
			},
			file: "a", kept: outcome{true, "01ab"}, dropped: outcome{true, "0123456789"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFS(t, 1, Config{})
			tc.setup(t, f)
			kept, dropped := crashBoth(t, f)
			for _, c := range []struct {
				label string
				fs    *FS
				want  outcome
			}{{"keep-all", kept, tc.kept}, {"drop-all", dropped, tc.dropped}} {
				if got := exists(t, c.fs, tc.file); got != c.want.exists {
					t.Fatalf("%s: %s exists=%v, want %v\n%s", c.label, tc.file, got, c.want.exists, c.fs.DumpTree())
				}
				if c.want.exists {
					if got := contents(t, c.fs, tc.file); string(got) != c.want.data {
						t.Fatalf("%s: %s = %q, want %q", c.label, tc.file, got, c.want.data)
					}
				}
			}
			if kept.UnsyncedBytes() != 0 || dropped.UnsyncedBytes() != 0 {
				t.Fatal("a post-crash FS has unsynced bytes")
			}
		})
	}
}

// TestUnsyncedChangesMayGoEitherWay checks that the default configuration really produces
// both fates for each kind of unsynced change.
func TestUnsyncedChangesMayGoEitherWay(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(0); seed < 64; seed++ {
		f := newFS(t, seed, Config{})
		writeFile(t, f, "removed", []byte("r"), true)
		writeFile(t, f, "renamed", []byte("m"), true)
		writeFile(t, f, "written", nil, false)
		writeFile(t, f, "truncated", []byte("0123456789"), true)
		must(t, f.SyncDir("."))
		tr := open(t, f, "truncated")
		must(t, tr.Truncate(3))
		writeFile(t, f, "created", []byte("c"), true)
		must(t, f.Remove("removed"))
		must(t, f.Rename("renamed", "renamed2"))
		h := open(t, f, "written")
		writeAt(t, h, []byte("w"), 0)
		c := f.Crash(seeded(seed))
		checked(t, c)
		old, new := exists(t, c, "renamed"), exists(t, c, "renamed2")
		if old == new {
			t.Fatalf("seed %d: rename half-applied: old=%v new=%v", seed, old, new)
		}
		seen[fmt.Sprintf("created=%v", exists(t, c, "created"))] = true
		seen[fmt.Sprintf("removed=%v", exists(t, c, "removed"))] = true
		seen[fmt.Sprintf("renamed=%v", new)] = true
		seen[fmt.Sprintf("written=%q", contents(t, c, "written"))] = true
		seen[fmt.Sprintf("truncated=%q", contents(t, c, "truncated"))] = true
	}
	for _, want := range []string{"created=true", "created=false", "removed=true", "removed=false",
		"renamed=true", "renamed=false", `written="w"`, `written=""`,
		`truncated="012"`, `truncated="0123456789"`} {
		if !seen[want] {
			t.Errorf("never saw %s in 64 crashes", want)
		}
	}
}

// TestCrossDirectoryRenameHalves checks that each directory's SyncDir makes its own half
// of a rename durable.
func TestCrossDirectoryRenameHalves(t *testing.T) {
	f := newFS(t, 1, Config{})
	must(t, f.MkdirAll("src"))
	must(t, f.MkdirAll("dst"))
	must(t, f.SyncDir("."))
	writeFile(t, f, "src/x", []byte("x"), true)
	must(t, f.SyncDir("src"))
	must(t, f.Rename("src/x", "dst/x"))
	must(t, f.SyncDir("dst"))
	dropped := f.CrashWith(seeded(1), CrashDropAll())
	checked(t, dropped)
	// The removal from src was not synced and reverted; the entry in dst was synced.
	if !exists(t, dropped, "src/x") || !exists(t, dropped, "dst/x") {
		t.Fatalf("want both names after a half-synced rename:\n%s", dropped.DumpTree())
	}
	must(t, dropped.Remove("src/x"))
	if string(contents(t, dropped, "dst/x")) != "x" {
		t.Fatal("the two names do not share a file")
	}
	checked(t, dropped)
}

// TestDirectoryCycleAfterCrash builds durable entries that form a cycle and checks that
// the crash still produces a tree.
func TestDirectoryCycleAfterCrash(t *testing.T) {
	f := newFS(t, 1, Config{})
	must(t, f.MkdirAll("A"))
	must(t, f.MkdirAll("B"))
	must(t, f.SyncDir("."))
	must(t, f.Rename("B", "A/B"))
	must(t, f.SyncDir("A")) // durable: / {A, B}, A {B}
	must(t, f.Rename("A/B", "B"))
	must(t, f.Rename("A", "B/A"))
	must(t, f.SyncDir("B")) // durable: B {A}, so A -> B -> A
	c := f.CrashWith(seeded(1), CrashDropAll())
	checked(t, c)
	// The walk reaches A, then B inside it; A inside B and B at the root are repeats.
	if c.Stats().DirEntriesDropped != 2 {
		t.Fatalf("DirEntriesDropped = %d, want 2\n%s", c.Stats().DirEntriesDropped, c.DumpTree())
	}
	if !exists(t, c, "A/B") || exists(t, c, "A/B/A") || exists(t, c, "B") {
		t.Fatalf("unexpected tree:\n%s", c.DumpTree())
	}
}

// tearConfig tears every unsynced block.
var tearConfig = CrashConfig{BlockTearWeight: 1, SectorKeepProb: 0.5, EntryKeepProb: 1, TruncateKeepProb: 1}

func TestTearingIsSectorGranular(t *testing.T) {
	const durableBytes, currentBytes = 3*BlockSize + 700, 6*BlockSize + 100
	old := pattern(0x11, durableBytes)
	new := pattern(0xEE, currentBytes)
	mixed := 0
	for seed := uint64(0); seed < 32; seed++ {
		f := newFS(t, seed, Config{})
		writeFile(t, f, "a", old, true)
		must(t, f.SyncDir("."))
		h := open(t, f, "a")
		writeAt(t, h, new, 0)
		c := f.CrashWith(seeded(seed), tearConfig)
		checked(t, c)
		got := contents(t, c, "a")
		if len(got) < durableBytes || len(got) > currentBytes {
			t.Fatalf("seed %d: size %d outside [%d, %d]", seed, len(got), durableBytes, currentBytes)
		}
		kinds := map[string]int{}
		for lo := 0; lo < len(got); lo += SectorSize {
			hi := min(lo+SectorSize, len(got))
			kind := sectorKind(got[lo:hi], old, new, lo)
			if kind == "" {
				t.Fatalf("seed %d: sector at %d is neither old nor new", seed, lo)
			}
			kinds[kind]++
		}
		if kinds["new"] > 0 && kinds["old"]+kinds["zero"] > 0 {
			mixed++
		}
		if c.Stats().BlocksTorn != 7 {
			t.Fatalf("seed %d: %d torn blocks, want 7", seed, c.Stats().BlocksTorn)
		}
	}
	if mixed < 16 {
		t.Fatalf("only %d of 32 crashes mixed old and new sectors", mixed)
	}
}

// sectorKind says whether sector s at off is entirely new, entirely old (the durable
// bytes, zeros beyond them), or neither.
func sectorKind(s, old, new []byte, off int) string {
	if bytes.Equal(s, new[off:off+len(s)]) {
		return "new"
	}
	want := make([]byte, len(s))
	if off < len(old) {
		copy(want, old[off:])
	}
	if bytes.Equal(s, want) {
		if off >= len(old) {
			return "zero"
		}
		return "old"
	}
	return ""
}

// TestKeptTailExtendsDroppedDoesNot appends two blocks and checks the size rule.
func TestKeptTailExtendsDroppedDoesNot(t *testing.T) {
	sizes := map[int64]bool{}
	for seed := uint64(0); seed < 64; seed++ {
		f := newFS(t, seed, Config{})
		writeFile(t, f, "a", pattern(1, 1000), true)
		must(t, f.SyncDir("."))
		h := open(t, f, "a")
		writeAt(t, h, pattern(2, 2*BlockSize), 1000)
		c := f.CrashWith(seeded(seed), CrashConfig{BlockKeepWeight: 1, BlockDropWeight: 1})
		got := contents(t, c, "a")
		sizes[int64(len(got))] = true
		cur := append(pattern(1, 1000), pattern(2, 2*BlockSize)...)
		if !bytes.Equal(got[:1000], cur[:1000]) {
			t.Fatalf("seed %d: durable bytes damaged", seed)
		}
		// Each block's appended part is all new or, for a dropped block, all zero.
		for lo := 1000; lo < len(got); {
			hi := min((lo/BlockSize+1)*BlockSize, len(got))
			if !bytes.Equal(got[lo:hi], cur[lo:hi]) && !bytes.Equal(got[lo:hi], make([]byte, hi-lo)) {
				t.Fatalf("seed %d: block at %d mixes content", seed, lo)
			}
			lo = hi
		}
	}
	// The write dirtied blocks 0, 1 and 2. The size is that of the last kept block (the
	// last one ends at the current size, 9192), or the durable 1000 if none was kept.
	want := []int64{1000, BlockSize, 2 * BlockSize, 1000 + 2*BlockSize}
	for _, w := range want {
		if !sizes[w] {
			t.Errorf("never saw size %d; saw %v", w, sizes)
		}
	}
	if len(sizes) != len(want) {
		t.Errorf("sizes %v, want exactly %v", sizes, want)
	}
}

func TestFailedSyncLosesData(t *testing.T) {
	setup := func(t *testing.T) (*FS, []byte) {
		f := newFS(t, 1, Config{})
		good := pattern(1, BlockSize+100)
		writeFile(t, f, "log", good, true)
		must(t, f.SyncDir("."))
		return f, good
	}

	t.Run("later sync does not make lost bytes durable", func(t *testing.T) {
		f, good := setup(t)
		h := open(t, f, "log")
		lost := pattern(2, 1000)
		writeAt(t, h, lost, int64(len(good)))
		must(t, f.FailNextSync("log"))
		wantErr(t, h.Sync(), errIO, "injected Sync")
		if got := contents(t, f, "log"); !bytes.Equal(got[len(good):], lost) {
			t.Fatal("lost bytes are not readable before the crash")
		}
		must(t, h.Sync()) // succeeds, but cannot bring the bytes back
		if f.UnsyncedBytes() == 0 {
			t.Fatal("UnsyncedBytes ignores lost bytes")
		}
		// Bytes equal to the durable content (zeros here) cannot be told apart and are
		// not counted as lost.
		if s := f.Stats(); s.SyncEIO != 1 || s.LostBytes != int64(len(lost)-bytes.Count(lost, []byte{0})) {
			t.Fatalf("stats %+v", s)
		}
		for _, cc := range []CrashConfig{CrashKeepAll(), CrashDropAll(), tearConfig} {
			c := f.Clone().CrashWith(seeded(3), cc)
			checked(t, c)
			got := contents(t, c, "log")
			if !bytes.Equal(got[:len(good)], good) {
				t.Fatalf("%+v: synced prefix damaged", cc)
			}
			if len(got) != len(good)+len(lost) || !bytes.Equal(got[len(good):], make([]byte, len(lost))) {
				t.Fatalf("%+v: lost region = %d bytes, not zeros", cc, len(got)-len(good))
			}
		}
	})

	t.Run("lost bytes never survive without a later sync", func(t *testing.T) {
		f, good := setup(t)
		h := open(t, f, "log")
		writeAt(t, h, pattern(2, 1000), int64(len(good)))
		must(t, f.FailNextSync("log"))
		wantErr(t, h.Sync(), errIO, "injected Sync")
		c := f.CrashWith(seeded(3), CrashKeepAll())
		got := contents(t, c, "log")
		if !bytes.Equal(got[:len(good)], good) || !bytes.Equal(got[len(good):], make([]byte, len(got)-len(good))) {
			t.Fatal("lost bytes survived a keep-all crash")
		}
	})

	t.Run("rewriting after truncating to the good offset recovers", func(t *testing.T) {
		f, good := setup(t)
		h := open(t, f, "log")
		writeAt(t, h, pattern(2, 1000), int64(len(good)))
		must(t, f.FailNextSync("log"))
		wantErr(t, h.Sync(), errIO, "injected Sync")
		must(t, h.Truncate(int64(len(good))))
		again := pattern(3, 1000)
		writeAt(t, h, again, int64(len(good)))
		must(t, h.Sync())
		c := f.CrashWith(seeded(3), CrashDropAll())
		if got := contents(t, c, "log"); !bytes.Equal(got, append(good, again...)) {
			t.Fatal("rewritten data not durable")
		}
	})

	t.Run("a partial overwrite clears only the overwritten bytes", func(t *testing.T) {
		f, good := setup(t)
		h := open(t, f, "log")
		writeAt(t, h, pattern(2, 1000), int64(len(good)))
		must(t, f.FailNextSync("log"))
		wantErr(t, h.Sync(), errIO, "injected Sync")
		writeAt(t, h, []byte("fresh"), int64(len(good)+10))
		must(t, h.Sync())
		c := f.CrashWith(seeded(3), CrashDropAll())
		got := contents(t, c, "log")[len(good):]
		want := make([]byte, 1000)
		copy(want[10:], "fresh")
		if !bytes.Equal(got, want) {
			t.Fatalf("after partial overwrite: %q", got[:20])
		}
	})
}

func TestCrashDeterminism(t *testing.T) {
	run := func(fsSeed, crashSeed uint64) uint64 {
		f := newFS(t, fsSeed, Config{Faults: Faults{SyncEIOProb: 0.1, WriteEIOProb: 0.05}})
		workload(t, f, seeded(fsSeed+1000), 300)
		return f.Crash(seeded(crashSeed)).Digest()
	}
	a, b := run(1, 7), run(1, 7)
	if a != b {
		t.Fatalf("same seeds gave digests %x and %x", a, b)
	}
	if c := run(1, 8); c == a {
		t.Fatal("a different crash seed gave the same image")
	}
	if d := run(2, 7); d == a {
		t.Fatal("a different FS seed gave the same image")
	}
}

func TestCloneIsIndependentAndExact(t *testing.T) {
	f := newFS(t, 5, Config{Faults: Faults{SyncEIOProb: 0.2, ReadCorruptProb: 0.1}, Latency: DefaultLatencyModel()})
	workload(t, f, seeded(6), 200)
	c := f.Clone()
	checked(t, c)
	if f.Digest() != c.Digest() {
		t.Fatal("clone digest differs")
	}
	// Both continue identically, including their fault and latency draws.
	workload(t, f, seeded(7), 200)
	workload(t, c, seeded(7), 200)
	if f.Digest() != c.Digest() || f.Stats() != c.Stats() {
		t.Fatal("clone diverged under the same operations")
	}
	if f.Latency(OpSync, 0) != c.Latency(OpSync, 0) {
		t.Fatal("clone latency stream diverged")
	}
	// A change to one is invisible to the other.
	before := c.Digest()
	writeFile(t, f, "only-in-original", []byte("x"), true)
	if c.Digest() != before || exists(t, c, "only-in-original") {
		t.Fatal("clone shares state with the original")
	}
	// Crash images of equal FSs with equal crash seeds are equal.
	if f.Clone().Crash(seeded(9)).Digest() != f.Clone().Crash(seeded(9)).Digest() {
		t.Fatal("crash of equal clones differs")
	}
}

func TestDigestSeesDurableState(t *testing.T) {
	f := newFS(t, 1, Config{})
	writeFile(t, f, "a", []byte("x"), false)
	before := f.Digest()
	h := open(t, f, "a")
	must(t, h.Sync())
	if f.Digest() == before {
		t.Fatal("Sync did not change the digest")
	}
	before = f.Digest()
	must(t, f.SyncDir("."))
	if f.Digest() == before {
		t.Fatal("SyncDir did not change the digest")
	}
}

// workload runs n random operations over a few files, ignoring injected errors.
func workload(t tb, f *FS, rng interface {
	IntN(int) int
	Int64N(int64) int64
}, n int) {
	t.Helper()
	names := []string{"a", "b", "d/c", "d/e"}
	must(t, f.MkdirAll("d"))
	for range n {
		name := names[rng.IntN(len(names))]
		switch rng.IntN(8) {
		case 0, 1, 2:
			h, err := f.Open(name)
			if err != nil {
				h = create(t, f, name)
			}
			p := pattern(byte(rng.IntN(256)), 1+rng.IntN(3*BlockSize))
			h.WriteAt(p, rng.Int64N(4*BlockSize))
			h.Close()
		case 3:
			if h, err := f.Open(name); err == nil {
				h.Sync()
				h.Close()
			}
		case 4:
			f.SyncDir("d")
			f.SyncDir(".")
		case 5:
			if h, err := f.Open(name); err == nil {
				h.Truncate(rng.Int64N(5 * BlockSize))
				h.Close()
			}
		case 6:
			f.Rename(name, names[rng.IntN(len(names))])
		case 7:
			if h, err := f.Open(name); err == nil {
				h.ReadAt(make([]byte, 100), rng.Int64N(BlockSize))
				h.Close()
			}
		}
	}
	checked(t, f)
}

func TestUnsyncedBytesAndDumpTree(t *testing.T) {
	f := newFS(t, 1, Config{})
	must(t, f.MkdirAll("d"))
	must(t, f.SyncDir("."))
	h := create(t, f, "d/log")
	writeAt(t, h, pattern(1, 100), 0)
	writeAt(t, h, pattern(2, 10), 3*BlockSize)
	if n := f.UnsyncedBytes(); n != BlockSize+10 {
		t.Fatalf("UnsyncedBytes = %d, want %d", n, BlockSize+10)
	}
	dump := f.DumpTree()
	for _, want := range []string{"d/\n", "log size=12298 durable=0 unsynced=4106 lost=0 [new entry, not synced]"} {
		if !strings.Contains(dump, want) {
			t.Fatalf("DumpTree lacks %q:\n%s", want, dump)
		}
	}
	must(t, h.Sync())
	must(t, f.SyncDir("d"))
	if n := f.UnsyncedBytes(); n != 0 {
		t.Fatalf("UnsyncedBytes after Sync = %d", n)
	}
	if dump := f.DumpTree(); !strings.Contains(dump, "log size=12298 durable=12298 unsynced=0 lost=0\n") {
		t.Fatalf("DumpTree after sync:\n%s", dump)
	}
}
