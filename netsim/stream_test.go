package netsim

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

func genLink(t *rapid.T, label string) LinkConfig {
	tailMin := time.Duration(rapid.Int64Range(0, int64(20*time.Millisecond)).Draw(t, label+"tailMin"))
	return LinkConfig{
		DelayBase:      time.Duration(rapid.Int64Range(0, int64(2*time.Millisecond)).Draw(t, label+"base")),
		DelayJitter:    time.Duration(rapid.Int64Range(0, int64(5*time.Millisecond)).Draw(t, label+"jitter")),
		TailProb:       rapid.Float64Range(0, 0.5).Draw(t, label+"tailProb"),
		TailMin:        tailMin,
		TailMax:        tailMin + time.Duration(rapid.Int64Range(0, int64(50*time.Millisecond)).Draw(t, label+"tailWidth")),
		BytesPerSecond: rapid.SampledFrom([]int64{0, 1 << 20, 1 << 30}).Draw(t, label+"bps"),
		// Datagram-only knobs must not affect streams.
		LossProb:    rapid.Float64Range(0, 1).Draw(t, label+"loss"),
		DupProb:     rapid.Float64Range(0, 1).Draw(t, label+"dup"),
		ReorderProb: rapid.Float64Range(0, 1).Draw(t, label+"reorder"),
	}
}

// While a stream is up, each direction delivers every message exactly once, in order,
// whatever the delays, clogs, bandwidth and mid-stream configuration changes.
func TestStreamFIFOProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{Link: genLink(t, "default"), StreamsOpenMax: 8}
		n := newNet(t, rapid.Uint64().Draw(t, "seed"), cfg, 0, 1, 2)
		id, ok := n.Open(0, 1)
		if !ok {
			t.Fatal("open failed on a healthy network")
		}
		var now Time
		last := map[Addr]Time{}
		sent := map[Addr]int{}
		steps := rapid.IntRange(1, 200).Draw(t, "steps")
		for range steps {
			now += Time(rapid.Int64Range(0, int64(3*time.Millisecond)).Draw(t, "gap"))
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0:
				from := Addr(rapid.IntRange(0, 1).Draw(t, "clogFrom"))
				until := now + Time(rapid.Int64Range(0, int64(20*time.Millisecond)).Draw(t, "clog"))
				if broken := n.Apply(now, Clog(from, 1-from, until)); len(broken) != 0 {
					t.Fatalf("a clog broke streams %v", broken)
				}
			case 1:
				from := Addr(rapid.IntRange(0, 1).Draw(t, "setFrom"))
				if err := n.SetLink(from, 1-from, genLink(t, "override")); err != nil {
					t.Fatal(err)
				}
			default:
				from := Addr(rapid.IntRange(0, 1).Draw(t, "from"))
				size := rapid.IntRange(0, 1<<20).Draw(t, "size")
				at, r := n.StreamSend(now, id, from, size)
				if r != StreamSent {
					t.Fatalf("send %d on a healthy stream: %v", sent[from], r)
				}
				if at < now || at < last[from] {
					t.Fatalf("from %d at %v: arrival %v, previous arrival %v", from, now, at, last[from])
				}
				last[from] = at
				sent[from]++
			}
		}
		if n.Broken(id) {
			t.Fatal("a stream broke without faults or break probability")
		}
		if got := n.Stats().StreamMessages; got != int64(sent[0]+sent[1]) {
			t.Fatalf("stats count %d stream messages, sent %d", got, sent[0]+sent[1])
		}
	})
}

func TestStreamRandomBreaks(t *testing.T) {
	cfg := fixedConfig(time.Millisecond)
	cfg.Link.StreamBreakProb = 0.02
	cfg.StreamsOpenMax = 2
	n := newNet(t, 9, cfg, 0, 1)
	breaks, messages := 0, 0
	var now Time
	for opens := 0; opens < 2000; opens++ {
		id, ok := n.Open(1, 0)
		if !ok {
			t.Fatal("open failed")
		}
		for {
			now += ms
			_, r := n.StreamSend(now, id, Addr(messages%2), 100)
			messages++
			if r == StreamSent {
				continue
			}
			if r != StreamBroke {
				t.Fatalf("first failure on stream %d is %v, want %v", id, r, StreamBroke)
			}
			breaks++
			if !n.Broken(id) {
				t.Fatal("Broken is false after StreamBroke")
			}
			if _, r := n.StreamSend(now, id, 1, 100); r != StreamDown {
				t.Fatalf("send after break: %v, want %v", r, StreamDown)
			}
			break
		}
	}
	within(t, "random breaks", breaks, messages, cfg.Link.StreamBreakProb)
	// Broken streams no longer count against StreamsOpenMax, or the opens above would
	// have failed.
	if s := n.Stats(); s.StreamsBrokenAtRandom != int64(breaks) || s.StreamsOpened != 2000 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStreamsOpenMaxBound(t *testing.T) {
	cfg := fixedConfig(time.Millisecond)
	cfg.StreamsOpenMax = 3
	n := newNet(t, 1, cfg, 0, 1)
	var ids []StreamID
	for range 3 {
		id, ok := n.Open(5, 0)
		if !ok {
			t.Fatal("open below the bound failed")
		}
		ids = append(ids, id)
	}
	if _, ok := n.Open(5, 0); ok {
		t.Fatal("open beyond StreamsOpenMax succeeded")
	}
	n.Close(ids[0])
	if _, ok := n.Open(5, 1); !ok {
		t.Fatal("open after Close failed")
	}
	n.Break(ids[1])
	if _, ok := n.Open(6, 1); !ok {
		t.Fatal("open after Break failed")
	}
	if s := n.Stats(); s.StreamsRefused != 1 || s.StreamsClosed != 1 || s.StreamsBrokenByCall != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStreamLifecycle(t *testing.T) {
	n := newNet(t, 1, fixedConfig(time.Millisecond), 0, 1)
	id, ok := n.Open(7, 0)
	if !ok || n.Broken(id) {
		t.Fatal("a fresh stream is not up")
	}
	if a, b, ok := n.StreamEnds(id); !ok || a != 7 || b != 0 {
		t.Fatalf("StreamEnds = %d, %d, %v", a, b, ok)
	}
	at, r := n.StreamSend(0, id, 0, 10)
	if r != StreamSent || at != ms {
		t.Fatalf("StreamSend = %v, %v", at, r)
	}
	mustPanic(t, "send from a stranger", func() { n.StreamSend(0, id, 1, 10) })
	mustPanic(t, "unknown stream", func() { n.Broken(id + 1) })
	mustPanic(t, "stream to itself", func() { n.Open(1, 1) })
	if !n.Break(id) || n.Break(id) {
		t.Fatal("Break must report true once, then false")
	}
	n.Close(id) // closing a broken stream does nothing
	if s := n.Stats(); s.StreamsClosed != 0 || s.StreamsBrokenByCall != 1 {
		t.Fatalf("stats %+v", s)
	}
	if _, _, ok := n.StreamEnds(id); ok {
		t.Fatal("StreamEnds of a broken stream")
	}
}
