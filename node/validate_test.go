package node

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"pgregory.net/rapid"
)

// bootCore builds the core a node with configuration c would run and drives it through a
// first boot on an empty disk: Start, then ticks at its deadlines and every disk op
// completed at once, for a few session timeouts of its clock. It fails on an error from
// core.New, a panic, or a fatal output.
func bootCore(c Config) error {
	_, err := bootCoreNode(c)
	return err
}

func bootCoreNode(c Config) (n *core.Node, err error) {
	cc := c.CoreConfig(1, []core.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}})
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	n, err = core.New(cc)
	if err != nil {
		return nil, fmt.Errorf("core.New: %w", err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	end := now + int64(3*max(c.Timing.SessionTimeout, c.Timing.ElectionTimeout))
	n.Start(now, disk.Recovered{Files: map[string][]byte{}})
	for step := 0; step < 3000 && now < end; step++ {
		out := n.Drain()
		if out.Fatal != nil {
			return n, out.Fatal
		}
		if len(out.Ops) > 0 {
			for _, op := range out.Ops {
				n.Done(now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
			}
			continue
		}
		if d := n.Deadline(); d != core.NoDeadline {
			now = max(now+int64(time.Microsecond), d)
		} else {
			now += int64(time.Millisecond)
		}
		n.Tick(now)
	}
	if out := n.Drain(); out.Fatal != nil {
		return n, out.Fatal
	}
	return n, nil
}

// The boot goes far enough to matter: the node elects itself, starts its controller and
// registers its broker, unfenced.
func TestBootCoreRegistersTheBroker(t *testing.T) {
	n, err := bootCoreNode(DefaultConfig())
	must(t, err)
	b, ok := n.Image().Broker(1)
	if !ok || b.Fenced {
		t.Fatalf("broker 1 after boot: %+v registered %v", b, ok)
	}
}

// edgeValues are the values tried for every numeric setting: what the parser accepts at
// its edges and around the defaults' relations to each other.
var edgeValues = []string{"0", "1", "2", "3", "500", "1000", "1999", "2000", "2001", "4000",
	"6000", "6800", "6900", "8000", "9000", "30000", "1048576", "2147483647", "0.001", "0.49", "NaN"}

// TestEverySettingAcceptedBoots sets every setting, one at a time, to each edge value:
// whatever node.Config.Validate accepts must boot a core that neither panics nor stops.
func TestEverySettingAcceptedBoots(t *testing.T) {
	accepted := 0
	for _, s := range Settings() {
		if _, err := strconv.ParseFloat(s.Default, 64); err != nil {
			continue // not numeric: names, addresses, files
		}
		for _, v := range edgeValues {
			c := DefaultConfig()
			if c.Set(s.Key, v) != nil || c.Validate() != nil {
				continue
			}
			accepted++
			if err := bootCore(c); err != nil {
				t.Errorf("%s=%s passes Validate but the core does not boot: %v", s.Key, v, err)
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d edge configurations accepted: the table tests little", accepted)
	}
}

// The lease inequality of the controller is checked at start, with a one-line error that
// names the setting, instead of a panic when the controller first starts.
func TestUnsafeLeaseFailsValidation(t *testing.T) {
	c := DefaultConfig()
	must(t, c.Set("broker.lease.ms", "8000"))
	err := c.Validate()
	if err == nil {
		t.Fatal("broker.lease.ms=8000 passes Validate")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "config: broker.lease.ms=8000 is unsafe") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q", msg)
	}
	if err := bootCore(c); err == nil || !strings.Contains(err.Error(), "broker.lease.ms") {
		t.Fatalf("the core booted a configuration Validate rejects: %v", err)
	}
}

// timingKeys are the settings of core.Timing in milliseconds.
var timingKeys = []string{
	"controller.quorum.election.timeout.ms", "controller.quorum.fetch.max.wait.ms",
	"controller.quorum.fetch.timeout.ms", "broker.heartbeat.interval.ms", "broker.session.timeout.ms",
	"broker.lease.ms", "replica.lag.time.max.ms", "replica.fetch.wait.max.ms", "request.timeout.ms",
}

// TestTimingsAcceptedBoot draws the timing settings and the drift bound: every draw
// Validate accepts boots; half of the draws are built to satisfy the orderings the core
// needs, so that both sides of each bound are tried.
func TestTimingsAcceptedBoot(t *testing.T) {
	accepted := 0
	rapid.Check(t, func(rt *rapid.T) {
		c := DefaultConfig()
		ms := func(label string, lo, hi int) int { return rapid.IntRange(lo, hi).Draw(rt, label) }
		vals := map[string]int{}
		if rapid.Bool().Draw(rt, "ordered") {
			h := ms("heartbeat", 1, 5000)
			wait := ms("quorum wait", 1, 2000)
			vals["broker.heartbeat.interval.ms"] = h
			vals["broker.lease.ms"] = h + ms("lease above heartbeat", 1, 5000)
			vals["controller.quorum.fetch.max.wait.ms"] = wait
			vals["controller.quorum.fetch.timeout.ms"] = wait + ms("quorum timeout above wait", 1, 5000)
			vals["broker.session.timeout.ms"] = vals["broker.lease.ms"] + vals["controller.quorum.fetch.timeout.ms"] + ms("session slack", 0, 5000)
			fetchWait := ms("replica fetch wait", 1, 2000)
			vals["replica.fetch.wait.max.ms"] = fetchWait
			vals["replica.lag.time.max.ms"] = fetchWait + ms("lag above wait", 1, 30000)
			vals["controller.quorum.election.timeout.ms"] = ms("election", 1, 5000)
			vals["request.timeout.ms"] = ms("request", 1, 60000)
		} else {
			for _, k := range timingKeys {
				vals[k] = ms(k, 1, 20000)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			must(t, c.Set(k, strconv.Itoa(vals[k])))
		}
		drift := rapid.SampledFrom([]string{"0.0001", "0.001", "0.01", "0.05", "0.2", "0.49"}).Draw(rt, "drift")
		must(t, c.Set("clock.drift.max", drift))
		if c.Validate() != nil {
			return
		}
		accepted++
		if err := bootCore(c); err != nil {
			rt.Fatalf("timings %v drift %s pass Validate but the core does not boot: %v", vals, drift, err)
		}
	})
	if accepted == 0 {
		t.Fatal("no draw passed Validate")
	}
}
