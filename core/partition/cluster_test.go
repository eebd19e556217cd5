package partition

import (
	"flag"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/plant"
)

var (
	simSeeds    = flag.Int("partition.seeds", 0, "seeds for the randomized cluster test (0: default)")
	simTrace    = flag.Int("partition.trace", -1, "print the trace of this seed")
	simVariants = flag.Int("partition.variants", 0, "seeds per variant for TestClusterVariants (0: skip)")
)

// TestClusterVariants runs the cluster with one fault pushed to an extreme per variant.
// Opt-in: -partition.variants=N.
func TestClusterVariants(t *testing.T) {
	if *simVariants <= 0 {
		t.Skip("-partition.variants not set")
	}
	variants := map[string]func(*simConfig){
		"long":    func(c *simConfig) { c.safety = 5 * time.Second },
		"lossy":   func(c *simConfig) { c.loss, c.dup = 0.3, 0.2 },
		"minisr3": func(c *simConfig) { c.nodes, c.minISR = 5, 3 },
		"churn": func(c *simConfig) {
			c.crashEvery, c.moveEvery, c.cutEvery = 40*time.Millisecond, 30*time.Millisecond, 40*time.Millisecond
		},
		"deletes": func(c *simConfig) { c.deletes = true },
		"power":   func(c *simConfig) { c.powerLoss, c.deletes = true, true },
	}
	for _, name := range []string{"long", "lossy", "minisr3", "churn", "deletes", "power"} {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(*simVariants) {
				failures, cfg, _ := runSim(seed, plant.Set{}, variants[name])
				if len(failures) > 0 {
					t.Fatalf("seed %d (%s):\n%s", seed, cfg, joinLines(failures))
				}
			}
		})
	}
}

func TestClusterTrace(t *testing.T) {
	if *simTrace < 0 {
		t.Skip("no -partition.trace seed")
	}
	w := runWorld(uint64(*simTrace), plant.Set{}, nil, true)
	for _, l := range w.trace {
		t.Log(l)
	}
	t.Logf("config %s\nfailures:\n%s", w.cfg, joinLines(w.failures))
}

func TestClusterRandomized(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	if *simSeeds > 0 {
		seeds = *simSeeds
	}
	var total simStats
	start := time.Now()
	for seed := range uint64(seeds) {
		failures, cfg, st := runSim(seed, plant.Set{}, nil)
		if len(failures) > 0 {
			t.Fatalf("seed %d (%s):\n%s", seed, cfg, joinLines(failures))
		}
		total.add(st)
	}
	t.Logf("%d seeds in %v: %+v", seeds, time.Since(start), total)
}

func (s *simStats) add(o simStats) {
	s.crashes += o.crashes
	s.moves += o.moves
	s.cuts += o.cuts
	s.acks += o.acks
	s.truncations += o.truncations
	s.resets += o.resets
	s.shrinks += o.shrinks
	s.expands += o.expands
}

func joinLines(v []string) string {
	out := ""
	for _, s := range v {
		out += "  " + s + "\n"
	}
	return out
}

// TestPowerLoss crashes every broker at once. With durable acknowledgements nothing
// acknowledged is lost; with FlushAsync (page-cache durability) some seed loses
// acknowledged acks=all records, which is what that mode gives up: a checker sees the
// loss itself, or what follows from it (a high watermark back below an acknowledged
// offset, a producer's sequences no longer matching the log).
func TestPowerLoss(t *testing.T) {
	seeds := uint64(100)
	if testing.Short() {
		seeds = 30
	}
	for seed := range seeds {
		failures, cfg, _ := runSim(seed, plant.Set{}, func(c *simConfig) { c.powerLoss = true })
		if len(failures) > 0 {
			t.Fatalf("sync mode, seed %d (%s):\n%s", seed, cfg, joinLines(failures))
		}
	}
	for seed := range uint64(200) {
		failures, _, _ := runSim(seed, plant.Set{}, func(c *simConfig) { c.powerLoss, c.async = true, true })
		if len(failures) > 0 {
			t.Logf("FlushAsync lost acknowledged writes at seed %d: %s", seed, failures[0])
			return
		}
	}
	t.Fatal("FlushAsync never lost an acknowledged write in a power loss: the simulator does not model page-cache loss")
}
