package netsim

import (
	"errors"
	"fmt"
	"time"
)

// Time is virtual time in nanoseconds since the start of a simulated run.
type Time int64

// Add returns t shifted by d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// String shows t as an offset from the start of the run, e.g. "1.5ms".
func (t Time) String() string { return time.Duration(t).String() }

// LinkConfig describes one direction between two addresses.
type LinkConfig struct {
	// DelayBase is the smallest one-way delay.
	DelayBase time.Duration
	// DelayJitter is the width of the uniform extra delay added to every message: the
	// delay is in [DelayBase, DelayBase+DelayJitter).
	DelayJitter time.Duration
	// TailProb is the probability that a message also takes a heavy-tail extra delay,
	// drawn uniformly in [TailMin, TailMax]. A LAN sees these as retransmits and stalls.
	TailProb float64
	TailMin  time.Duration
	TailMax  time.Duration

	// LossProb is the probability that a datagram is lost. Streams never lose messages.
	LossProb float64
	// DupProb is the probability that a datagram gains one more copy; it is applied again
	// to each new copy, up to copiesMax copies in all. Streams never duplicate.
	DupProb float64
	// ReorderProb is the probability that a datagram takes an extra delay drawn uniformly
	// in [0, ReorderDelay), enough to arrive after datagrams sent later. Jitter and the
	// tail already reorder some datagrams; this makes reordering common on purpose.
	ReorderProb  float64
	ReorderDelay time.Duration

	// StreamBreakProb is the probability that sending one message on a stream in this
	// direction breaks the stream (a connection reset); the message is lost.
	StreamBreakProb float64

	// BytesPerSecond, when positive, makes the link send one message at a time, each
	// taking sizeBytes/BytesPerSecond on the wire before its delay starts. Zero means
	// unlimited bandwidth.
	BytesPerSecond int64
}

// LinkOverride replaces the default LinkConfig for the link From -> To.
type LinkOverride struct {
	From, To Addr
	Link     LinkConfig
}

// Config configures a Net.
type Config struct {
	// Link is the configuration of every link without an override.
	Link LinkConfig
	// Overrides replace Link on particular links. A later entry for the same link wins.
	Overrides []LinkOverride
	// StreamsOpenMax bounds the streams open at once (broken streams no longer count).
	// Open fails beyond it, so a simulator that forgets to Close streams finds out.
	StreamsOpenMax int
}

// bytesPerSecondMax (about 68 Gbit/s) keeps wireTime's arithmetic within int64.
const bytesPerSecondMax = 1 << 33

// copiesMax bounds the copies of one datagram, so that a high DupProb cannot make Send
// return an unbounded slice.
const copiesMax = 4

// DefaultLink is a quiet LAN: 0.2 to 1 ms one way, with 1% of messages taking 10 to 50 ms
// more. It loses, duplicates and resets nothing; the simulator raises those rates per run.
func DefaultLink() LinkConfig {
	return LinkConfig{
		DelayBase:    200 * time.Microsecond,
		DelayJitter:  800 * time.Microsecond,
		TailProb:     0.01,
		TailMin:      10 * time.Millisecond,
		TailMax:      50 * time.Millisecond,
		ReorderDelay: 5 * time.Millisecond,
	}
}

// DefaultConfig returns DefaultLink on every link and room for 4096 open streams.
func DefaultConfig() Config {
	return Config{Link: DefaultLink(), StreamsOpenMax: 4096}
}

// Validate reports the first field of c that is out of range.
func (c LinkConfig) Validate() error {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"DelayBase", c.DelayBase}, {"DelayJitter", c.DelayJitter},
		{"TailMin", c.TailMin}, {"TailMax", c.TailMax}, {"ReorderDelay", c.ReorderDelay},
	}
	for _, f := range durations {
		if f.d < 0 {
			return fmt.Errorf("netsim: %s is negative (%v)", f.name, f.d)
		}
	}
	if c.TailMin > c.TailMax {
		return fmt.Errorf("netsim: TailMin %v is above TailMax %v", c.TailMin, c.TailMax)
	}
	probs := []struct {
		name string
		p    float64
	}{
		{"TailProb", c.TailProb}, {"LossProb", c.LossProb}, {"DupProb", c.DupProb},
		{"ReorderProb", c.ReorderProb}, {"StreamBreakProb", c.StreamBreakProb},
	}
	for _, f := range probs {
		if !(f.p >= 0 && f.p <= 1) { // also rejects NaN
			return fmt.Errorf("netsim: %s is %v, want a probability in [0, 1]", f.name, f.p)
		}
	}
	if c.BytesPerSecond < 0 || c.BytesPerSecond > bytesPerSecondMax {
		return fmt.Errorf("netsim: BytesPerSecond %d is outside [0, %d]", c.BytesPerSecond, int64(bytesPerSecondMax))
	}
	return nil
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if err := c.Link.Validate(); err != nil {
		return fmt.Errorf("default link: %w", err)
	}
	for _, o := range c.Overrides {
		if o.From < 0 || o.To < 0 {
			return fmt.Errorf("netsim: override %d -> %d: negative address", o.From, o.To)
		}
		if err := o.Link.Validate(); err != nil {
			return fmt.Errorf("override %d -> %d: %w", o.From, o.To, err)
		}
	}
	if c.StreamsOpenMax <= 0 {
		return errors.New("netsim: StreamsOpenMax must be positive")
	}
	return nil
}
