package compact

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func seg(base, next, size, ts int64) Segment {
	return Segment{BaseOffset: base, NextOffset: next, SizeBytes: size, MaxTimestamp: ts}
}

func TestPlan(t *testing.T) {
	segs := []Segment{seg(0, 10, 100, 1000), seg(10, 20, 100, 2000), seg(20, 30, 100, 3000), seg(30, 40, 100, 4000)}
	base := Policy{NowMs: 5000, DirtyRatioMin: 0.5, LagMaxMs: math.MaxInt64, DeleteRetentionMs: 1e9}
	for _, tc := range []struct {
		name       string
		firstDirty int64
		p          func(Policy) Policy
		want       Range
		ok         bool
	}{
		{"all dirty", 0, nil, Range{0, 4}, true},
		{"half dirty meets the ratio", 20, nil, Range{2, 4}, true},
		{"a quarter dirty does not", 30, nil, Range{}, false},
		{"a lower ratio lets it", 30, func(p Policy) Policy { p.DirtyRatioMin = 0.25; return p }, Range{3, 4}, true},
		{"nothing dirty", 40, func(p Policy) Policy { p.DirtyRatioMin = 0; return p }, Range{}, false},
		{"min lag holds back young segments", 0, func(p Policy) Policy { p.LagMinMs = 2500; return p }, Range{0, 2}, true},
		{"min lag holds back all", 0, func(p Policy) Policy { p.LagMinMs = 5000; return p }, Range{}, false},
		{"max lag overrides the ratio", 30, func(p Policy) Policy { p.LagMaxMs = 500; return p }, Range{3, 4}, true},
		{"max lag not reached", 30, func(p Policy) Policy { p.LagMaxMs = 1500; return p }, Range{}, false},
		{"tombstones due alone", 30, func(p Policy) Policy { p.DeleteRetentionMs = 4000; return p }, Range{3, 3}, true},
		{"no clean segment to sweep", 0, func(p Policy) Policy { p.DeleteRetentionMs = 0; p.LagMinMs = 1e9; return p }, Range{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			if tc.p != nil {
				p = tc.p(p)
			}
			var passes Passes
			if tc.firstDirty > 0 {
				passes = Passes{{End: tc.firstDirty, TimeMs: 1000}}
			}
			got, ok := Plan(segs, passes, p)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("Plan = %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	segs := []Segment{seg(0, 10, 60, 0), seg(10, 20, 60, 0), seg(20, 30, 60, 0), seg(35, 40, 10, 0), seg(40, 50, 10, 0)}
	contiguous := func(i int) bool { return segs[i-1].NextOffset == segs[i].BaseOffset }
	got := Groups(segs, 5, 130, 0, contiguous)
	// 0+1 fit 130, 2 does not; 3 starts after a hole; 4 joins it.
	if want := []int{0, 2, 3, 5}; !slices.Equal(got, want) {
		t.Fatalf("Groups = %v, want %v", got, want)
	}
	if got := Groups(segs, 0, 130, 0, contiguous); !slices.Equal(got, []int{0}) {
		t.Fatalf("Groups of none = %v", got)
	}
	for i := range segs {
		segs[i].IndexBytes = 40
	}
	// Indexes of 40 bytes in runs of at most 100: two segments a run.
	if got, want := Groups(segs, 5, 1000, 100, contiguous), []int{0, 2, 3, 5}; !slices.Equal(got, want) {
		t.Fatalf("Groups by index size = %v, want %v", got, want)
	}
}

func TestOffsetMap(t *testing.T) {
	m := NewOffsetMap(24 * 100)
	n := 0
	for i := 0; ; i++ {
		if !m.Put(fmt.Appendf(nil, "key-%d", i), int64(i)) {
			break
		}
		n++
	}
	if n != 90 || !m.Full() {
		t.Fatalf("a 100-slot map took %d keys (full %v), want 90", n, m.Full())
	}
	// Known keys still update when full.
	if !m.Put([]byte("key-3"), 500) {
		t.Fatal("a full map refused an update of a known key")
	}
	for i := range n {
		want := int64(i)
		if i == 3 {
			want = 500
		}
		if got, ok := m.Get(fmt.Appendf(nil, "key-%d", i)); !ok || got != want {
			t.Fatalf("key-%d = %d %v, want %d", i, got, ok, want)
		}
	}
	if _, ok := m.Get([]byte("key-999")); ok {
		t.Fatal("unknown key found")
	}
	// The empty key is a key, distinct from none.
	m.Clear()
	if !m.Put([]byte{}, 0) {
		t.Fatal("empty key refused")
	}
	if got, ok := m.Get([]byte{}); !ok || got != 0 {
		t.Fatalf("empty key = %d %v", got, ok)
	}
}

func TestOffsetMapGrows(t *testing.T) {
	m := NewOffsetMap(64 << 20)
	first := m.SizeBytes()
	const n = 200_000
	for i := range n {
		if !m.Put(fmt.Appendf(nil, "key-%d", i), int64(i)) {
			t.Fatalf("key %d refused", i)
		}
	}
	if m.SizeBytes() <= first || m.SizeBytes() > 64<<20 {
		t.Fatalf("map of %d bytes after %d keys (started at %d)", m.SizeBytes(), n, first)
	}
	for i := range n {
		if got, ok := m.Get(fmt.Appendf(nil, "key-%d", i)); !ok || got != int64(i) {
			t.Fatalf("key-%d = %d %v after growing", i, got, ok)
		}
	}
}

func TestPasses(t *testing.T) {
	var ps Passes
	ps = ps.Add(10, 100, 0)
	ps = ps.Add(25, 200, 0)
	if got, ok := ps.FirstCleanedMs(5); !ok || got != 100 {
		t.Fatalf("offset 5: %d %v", got, ok)
	}
	if got, ok := ps.FirstCleanedMs(10); !ok || got != 200 {
		t.Fatalf("offset 10: %d %v", got, ok)
	}
	if _, ok := ps.FirstCleanedMs(25); ok {
		t.Fatal("offset 25 was never cleaned")
	}
	if got := ps.Clip(12, 20); !slices.Equal(got, Passes{{20, 200}}) {
		t.Fatalf("Clip = %v", got)
	}
	if got := ps.Clip(0, 0); len(got) != 0 {
		t.Fatalf("Clip to an empty log = %v", got)
	}
	for i := range 3 * PassesMax {
		ps = ps.Add(int64(30+i), int64(300+i), 0)
	}
	if len(ps) != PassesMax {
		t.Fatalf("%d passes kept", len(ps))
	}
	// Merging only delays tombstones: every offset's time is at least what it was.
	if got, _ := ps.FirstCleanedMs(5); got < 100 {
		t.Fatalf("offset 5 now first cleaned at %d, before it was", got)
	}
	p := Policy{NowMs: 1000, DeleteRetentionMs: 100}
	swept := Passes{{10, 850}, {20, 950}}.Swept(p)
	if !slices.Equal(swept, Passes{{10, 0}, {20, 950}}) || swept.SweepDue(p) || !(Passes{{10, 850}}).SweepDue(p) {
		t.Fatalf("Swept = %v", swept)
	}
}

func TestKeep(t *testing.T) {
	p := Policy{NowMs: 1000, DeleteRetentionMs: 100}
	passes := Passes{{End: 50, TimeMs: 850}, {End: 80, TimeMs: 950}}
	for _, tc := range []struct {
		name   string
		r      Record
		latest int64
		mapped bool
		want   bool
	}{
		{"latest value", Record{Offset: 60, Key: []byte("a")}, 60, true, true},
		{"superseded value", Record{Offset: 60, Key: []byte("a")}, 70, true, false},
		{"unmapped key", Record{Offset: 60, Key: []byte("a")}, 0, false, true},
		{"no key", Record{Offset: 60}, 0, false, false},
		{"tombstone past retention", Record{Offset: 40, Key: []byte("a"), Tombstone: true}, 40, true, false},
		{"tombstone within retention", Record{Offset: 60, Key: []byte("a"), Tombstone: true}, 60, true, true},
		{"tombstone never cleaned", Record{Offset: 90, Key: []byte("a"), Tombstone: true}, 90, true, true},
		{"superseded tombstone", Record{Offset: 60, Key: []byte("a"), Tombstone: true}, 70, true, false},
	} {
		if got := Keep(tc.r, tc.latest, tc.mapped, passes, p); got != tc.want {
			t.Errorf("%s: Keep = %v, want %v", tc.name, got, tc.want)
		}
	}
}
