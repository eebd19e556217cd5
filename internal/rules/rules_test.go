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
