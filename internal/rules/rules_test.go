package rules

import (
	"strings"
	"testing"
)

// TestRepository is the repository test: the whole module follows DESIGN.md's import and
// determinism rules.
func TestRepository(t *testing.T) {
	vs, err := CheckTree("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("%s", v)
	}
}

// Each case is a file that breaks one rule; the checker must report it.
func TestEachRuleFires(t *testing.T) {
	cases := []struct {
		path, src, want string
	}{
		{"core/x/a.go", `package x; import "os"; var _ = os.Args`, `core imports "os"`},
		{"core/x/a.go", `package x; import "sync"; var _ sync.Mutex`, `core imports "sync"`},
		{"core/x/a.go", `package x; import "github.com/seedlog/seedlog/storage"; var _ storage.FS`, "core may not import storage"},
		{"core/x/a.go", `package x; import "github.com/twmb/franz-go/pkg/kgo"; var _ kgo.Client`, "outside its allowed dependencies"},
		{"core/x/a.go", `package x; import "time"; func f() { _ = time.Now() }`, "time.Now"},
		{"sim/a.go", `package sim; import "time"; func f() { time.Sleep(1) }`, "time.Sleep"},
		{"netsim/a.go", `package netsim; import "time"; func f() { _ = time.NewTimer(1) }`, "time.NewTimer"},
		{"disksim/a.go", `package disksim; func f() { go f() }`, "go statement"},
		{"sim/a.go", `package sim; func f(c chan int) {}`, "channel type"},
		{"sim/a.go", `package sim; func f() { select {} }`, "select"},
		{"core/a.go", `package core; import "math/rand/v2"; func f() int { return rand.IntN(3) }`, "global random source"},
		{"core/a.go", `package core; import "math/rand"; func f() int { return 1 }`, "imports math/rand"},
		{"sim/a.go", `package sim; import "crypto/rand"; var _ = rand.Reader`, "crypto/rand"},
		{"sim/a.go", `package sim; import "os"; func f() string { return os.Getenv("X") }`, "os.Getenv"},
		{"sim/a.go", `package sim; import "runtime"; func f() int { return runtime.NumCPU() }`, "runtime.NumCPU"},
		{"sim/a.go", `package sim; import "github.com/seedlog/seedlog/node"; var _ node.X`, "sim may not import node"},
		{"node/a.go", `package node; import "github.com/seedlog/seedlog/disksim"; var _ disksim.FS`, "node may not import disksim"},
		{"node/a.go", `package node; import "github.com/seedlog/seedlog/cmd/seedlog"; var _ = 1`, "nothing may import cmd"},
		{"storage/a.go", `package storage; import "github.com/seedlog/seedlog/core/raft"; var _ = 1`, "storage may not import core/raft"},
		{"netsim/a.go", `package netsim; import "github.com/cespare/xxhash/v2"; var _ = xxhash.Sum64`, "outside its allowed dependencies"},
		{"peerauth/a.go", `package peerauth; import "github.com/seedlog/seedlog/core/raft"; var _ = 1`, "peerauth may not import core/raft"},
		{"peerauth/a.go", `package peerauth; import "github.com/seedlog/seedlog/core"; var _ = 1`, "peerauth may not import core"},
	}
	for _, c := range cases {
		vs, err := CheckFile(c.path, []byte(c.src))
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		found := false
		for _, v := range vs {
			found = found || strings.Contains(v.Rule, c.want)
		}
		if !found {
			t.Errorf("%s in %s: want a violation containing %q, got %v", c.src, c.path, c.want, vs)
		}
	}
}

// Allowed code must pass, or the rules would be ignored as noise.
func TestAllowedCodePasses(t *testing.T) {
	cases := []struct{ path, src string }{
		{"core/x/a.go", `package x; import ("time"; "math/rand/v2"); func f(r *rand.Rand) time.Duration { return time.Duration(r.IntN(3)) * time.Millisecond }`},
		{"core/x/a.go", `package x; import "math/rand/v2"; func f() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }`},
		{"sim/a.go", `package sim; import "github.com/seedlog/seedlog/disksim"; var _ disksim.FS`},
		{"node/a.go", `package node; import "time"; func f() { _ = time.Now(); go f() }`},
		{"cmd/seedlog/a.go", `package main; import "github.com/seedlog/seedlog/sim"; var _ sim.X`},
		{"peerauth/a.go", `package peerauth; import "github.com/seedlog/seedlog/core/plant"; var _ plant.Set`},
	}
	for _, c := range cases {
		vs, err := CheckFile(c.path, []byte(c.src))
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 0 {
			t.Errorf("%s in %s: unexpected violations %v", c.src, c.path, vs)
		}
	}
}

// The map iteration rule: ranges over maps whose order could reach an output fire, in
// every deterministic directory it covers; diskexec is bound by the determinism rules.
func TestMapOrderFires(t *testing.T) {
	cases := []struct{ path, src string }{
		{"sim/a.go", `package sim; func f(m map[string]int) []string { var out []string; for k := range m { out = append(out, k) }; return out }`},
		{"core/a.go", `package core; func send(string, int) {}; func f(m map[string]int) { for k, v := range m { send(k, v) } }`},
		{"core/a.go", `package core; import "maps"; func f(m map[string]int) (out []string) { for k := range maps.Keys(m) { out = append(out, k) }; return }`},
		{"core/a.go", `package core; func f(m map[string]int) (last int) { for _, v := range m { last = v }; return }`},
		{"core/a.go", `package core; func f(m, inv map[string]string) { for k, v := range m { inv[v] = k } }`},
		{"diskexec/a.go", `package diskexec; func f(m map[int]int) (s int) { for k := range m { s = k }; return }`},
		{"core/a.go", `package core; type C map[string]int; func g(string) {}; func f(c C) { for k := range c { g(k) } }`},
		{"core/a.go", `package core; func f(m map[string]float64) (sum float64) { for _, v := range m { sum += v }; return }`},
		{"core/a.go", `package core; func g(string) {}; func f(m map[string]int) {
	// order-independent:
	for k := range m { g(k) } }`},
		{"core/a.go", `package core; func g(string) {}; func f[M ~map[string]int](m M) { for k := range m { g(k) } }`},
		{"core/a.go", `package core; func f(m map[string]int) (keys []string) { for k := range m { keys = append(keys, k) }; return keys }`},
		{"sim/a.go", `package sim; func next() bool { return true }; func f(m map[int]int) { for k := range m { if next() { delete(m, k) } } }`},
		{"core/a.go", `package core; func f(m map[int]int) int { for k := range m { if k > 2 { return k } }; return 0 }`},
	}
	for _, c := range cases {
		vs, err := CheckFile(c.path, []byte(c.src))
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		found := false
		for _, v := range vs {
			found = found || strings.Contains(v.Rule, "range over a map")
		}
		if !found {
			t.Errorf("%s in %s: want a map range violation, got %v", c.src, c.path, vs)
		}
	}
	for _, c := range []struct{ src, want string }{
		{`package diskexec; func f() { go f() }`, "go statement in diskexec"},
		{`package diskexec; import "time"; func f() { _ = time.Now() }`, "time.Now in diskexec"},
		{`package diskexec; import "math/rand/v2"; func f() int { return rand.IntN(3) }`, "global random source in diskexec"},
	} {
		vs, err := CheckFile("diskexec/a.go", []byte(c.src))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range vs {
			found = found || strings.Contains(v.Rule, c.want)
		}
		if !found {
			t.Errorf("%s: want %q, got %v", c.src, c.want, vs)
		}
	}
}

// Order-independent shapes pass, and so does anything outside the rule's directories.
func TestMapOrderAllowsIndependentShapes(t *testing.T) {
	cases := []struct{ path, src string }{
		{"core/a.go", `package core; import "slices"; func f(m map[string]int) (keys []string) { for k := range m { keys = append(keys, k) }; slices.Sort(keys); return }`},
		{"sim/a.go", `package sim; import "sort"; func f(m map[string]int) (keys []string) { for k, v := range m { if v > 0 { keys = append(keys, k) } }; sort.Strings(keys); return }`},
		{"core/a.go", `package core; import ("maps"; "slices"); func g(string) {}; func f(m map[string]int) { for _, k := range slices.Sorted(maps.Keys(m)) { g(k) } }`},
		{"core/a.go", `package core; func f(m map[int]int) { for k := range m { if k > 3 { delete(m, k) } } }`},
		{"core/a.go", `package core; func f(m map[int]int) (n int) { for _, v := range m { if v > 0 { n++ } }; return }`},
		{"core/a.go", `package core; func f(m, c map[string]int) { for k, v := range m { c[k] = v } }`},
		{"core/a.go", `package core; func f(m map[string]int64) { d := int64(0); for _, v := range m { d = min(d, v) }; _ = d }`},
		{"core/a.go", `package core; func f(m map[string]int) bool { for _, v := range m { if v < 0 { return true } }; return false }`},
		{"core/a.go", `package core; type T struct{ x int }; func f(m map[int]*T) { for _, p := range m { if p.x > 0 { p.x = 0 } } }`},
		{"diskexec/a.go", `package diskexec; func g(int) {}; func f(m map[int]int) {
	// order-independent: every value is the same one.
	for _, v := range m { g(v) } }`},
		{"node/a.go", `package node; func g(string) {}; func f(m map[string]int) { for k := range m { g(k) } }`},
		{"core/a.go", `package core; func g(int) {}; func f(s []int) { for _, v := range s { g(v) } }`},
	}
	for _, c := range cases {
		vs, err := CheckFile(c.path, []byte(c.src))
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 0 {
			t.Errorf("%s in %s: unexpected violations %v", c.src, c.path, vs)
		}
	}
}
