package disksim

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// What StatDurable, ReadDurable and ListDurable show is what a crash that keeps nothing
// unsynced leaves, and their generation moves only when durable bytes may have changed
// in place.
func TestDurableViewIsWhatEveryCrashKeeps(t *testing.T) {
	f := newFS(t, 1, DefaultConfig())
	must(t, f.MkdirAll("d"))
	fl, err := f.Create("d/a")
	must(t, err)
	if _, ok := f.StatDurable("d/a"); ok {
		t.Fatal("a file whose entry is not synced is certain")
	}
	must(t, f.SyncDir("."))
	must(t, f.SyncDir("d"))
	if got := f.ListDurable("d"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("ListDurable = %v, want [a]", got)
	}
	_, err = fl.WriteAt([]byte("hello"), 0)
	must(t, err)
	st, _ := f.StatDurable("d/a")
	if st.Size != 0 {
		t.Fatalf("unsynced bytes counted as durable: %+v", st)
	}
	must(t, fl.Sync())
	st, _ = f.StatDurable("d/a")
	if st.Size != 5 {
		t.Fatalf("synced size %d, want 5", st.Size)
	}
	gen := st.Gen
	_, err = fl.WriteAt([]byte(" world"), 5)
	must(t, err)
	must(t, fl.Sync())
	if st, _ = f.StatDurable("d/a"); st.Gen != gen || st.Size != 11 {
		t.Fatalf("an append moved the generation or missed the size: %+v (gen was %d)", st, gen)
	}
	must(t, fl.Truncate(3))
	if st, _ = f.StatDurable("d/a"); st.Size != 3 {
		t.Fatalf("a pending truncation may cut to 3, durable size %d", st.Size)
	}
	must(t, fl.Sync())
	if st, _ = f.StatDurable("d/a"); st.Gen == gen {
		t.Fatal("a synced truncation kept the generation")
	}
	buf := make([]byte, 8)
	n := f.ReadDurable("d/a", buf, 0)
	after := f.CrashWith(seeded(2), CrashDropAll())
	want := make([]byte, 8)
	m := after.ReadDurable("d/a", want, 0)
	if !bytes.Equal(buf[:n], want[:m]) || string(buf[:n]) != "hel" {
		t.Fatalf("durable bytes %q, after a crash %q", buf[:n], want[:m])
	}
}

// ListDurable follows every change of a directory's durable names, though it keeps
// their sorted listing from one call to the next.
func TestListDurableFollowsNameChanges(t *testing.T) {
	f := newFS(t, 1, DefaultConfig())
	list := func(want ...string) {
		t.Helper()
		if got := f.ListDurable("."); !slices.Equal(got, want) {
			t.Fatalf("ListDurable = %v, want %v", got, want)
		}
		checked(t, f)
	}
	create := func(name string) {
		t.Helper()
		fl, err := f.Create(name)
		must(t, err)
		must(t, fl.Close())
	}
	create("b")
	list()
	must(t, f.SyncDir("."))
	list("b")
	create("a")
	create("b.tmp")
	must(t, f.SyncDir("."))
	list("a", "b", "b.tmp")
	must(t, f.Rename("b.tmp", "b"))
	list("a") // b is pending: a crash may bring either file back
	must(t, f.SyncDir("."))
	list("a", "b")
	must(t, f.Remove("a"))
	must(t, f.SyncDir("."))
	list("b")
}

// A directory removed and made again under the same name never shows a generation its
// predecessor showed: a reader that keeps a listing by generation (the simulator's
// durable truth) sees the new directory's entries, not the old one's.
func TestDirGenNeverRepeatsAcrossRemakes(t *testing.T) {
	f := newFS(t, 1, DefaultConfig())
	seen := map[uint64]bool{}
	for round := range 3 {
		must(t, f.MkdirAll("d"))
		must(t, f.SyncDir("."))
		// The same changes each time, under another file name.
		name := fmt.Sprintf("d/%d", round)
		must(t, create(t, f, name).Close())
		must(t, f.SyncDir("d"))
		gen, ok := f.DirGen("d")
		if !ok || seen[gen] {
			t.Fatalf("round %d: generation %d (ok %v) seen before", round, gen, ok)
		}
		seen[gen] = true
		must(t, f.Remove(name))
		must(t, f.SyncDir("d"))
		must(t, f.Remove("d"))
		must(t, f.SyncDir("."))
	}
}
