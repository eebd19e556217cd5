package disksim

import (
	"fmt"
	"time"
)

// Config configures an FS. The zero Config is valid: default crash behaviour, no faults,
// zero latency.
type Config struct {
	Crash   CrashConfig
	Faults  Faults
	Latency LatencyModel
}

// DefaultConfig returns default crash behaviour and latencies, with no faults.
func DefaultConfig() Config {
	return Config{Crash: DefaultCrashConfig(), Latency: DefaultLatencyModel()}
}

// CrashConfig decides what becomes of unsynced state at a crash. The zero CrashConfig
// means DefaultCrashConfig.
type CrashConfig struct {
	// Relative weights of the fates of each 4 KiB block written since its last
	// successful Sync. At least one must be positive.
	BlockKeepWeight uint32
	BlockDropWeight uint32
	BlockTearWeight uint32
	// SectorKeepProb is, for a torn block, the chance that each 512 B sector holds the
	// new content.
	SectorKeepProb float64
	// EntryKeepProb is the chance that one unsynced directory change (a create, mkdir,
	// rename or remove) survives.
	EntryKeepProb float64
	// TruncateKeepProb is the chance that a file's size changes made by Truncate since its
	// last successful Sync survive.
	TruncateKeepProb float64
}

// DefaultCrashConfig keeps, drops and tears unsynced blocks equally often, and lets each
// unsynced metadata change survive half of the time.
func DefaultCrashConfig() CrashConfig {
	return CrashConfig{
		BlockKeepWeight:  1,
		BlockDropWeight:  1,
		BlockTearWeight:  1,
		SectorKeepProb:   0.5,
		EntryKeepProb:    0.5,
		TruncateKeepProb: 0.5,
	}
}

// CrashKeepAll makes every unsynced write, directory change and truncate survive a crash
// (except bytes lost to a failed Sync, which never survive).
func CrashKeepAll() CrashConfig {
	return CrashConfig{BlockKeepWeight: 1, EntryKeepProb: 1, TruncateKeepProb: 1}
}

// CrashDropAll makes a crash revert everything to the durable image.
func CrashDropAll() CrashConfig {
	return CrashConfig{BlockDropWeight: 1}
}

func (c CrashConfig) orDefault() CrashConfig {
	if c == (CrashConfig{}) {
		return DefaultCrashConfig()
	}
	return c
}

func (c CrashConfig) validate() error {
	if c.BlockKeepWeight == 0 && c.BlockDropWeight == 0 && c.BlockTearWeight == 0 {
		return fmt.Errorf("disksim: crash config has no positive block weight")
	}
	for _, p := range []float64{c.SectorKeepProb, c.EntryKeepProb, c.TruncateKeepProb} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("disksim: crash config probability %v outside [0, 1]", p)
		}
	}
	return nil
}

// Faults are the probabilities of injected faults, each drawn per operation from the FS's
// own random stream. Zero values inject nothing.
type Faults struct {
	WriteEIOProb   float64 // a WriteAt fails with EIO and writes nothing
	SyncEIOProb    float64 // a File.Sync fails with EIO; the unsynced bytes become lost
	SyncDirEIOProb float64 // a SyncDir fails with EIO and makes nothing durable
	ENOSPCProb     float64 // a WriteAt fails with ENOSPC regardless of free space
	// CapacityBytes bounds the sum of the current sizes of all live files; a WriteAt
	// that would grow the sum past it fails with ENOSPC. Zero means unlimited.
	CapacityBytes int64
	// ReadCorruptProb is the chance that a ReadAt returns one flipped bit. The stored
	// bytes stay intact, so a retry usually reads them correctly.
	ReadCorruptProb float64
}

func (f Faults) validate() error {
	for _, p := range []float64{f.WriteEIOProb, f.SyncEIOProb, f.SyncDirEIOProb, f.ENOSPCProb, f.ReadCorruptProb} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("disksim: fault probability %v outside [0, 1]", p)
		}
	}
	if f.CapacityBytes < 0 {
		return fmt.Errorf("disksim: negative capacity %d", f.CapacityBytes)
	}
	return nil
}

// OpKind classifies an operation for the latency model.
type OpKind uint8

// The operation kinds with their own latency distribution.
const (
	OpRead OpKind = iota
	OpWrite
	OpSync
	OpSyncDir
	OpMetadata // create, open, remove, rename, mkdir, list, stat, truncate
	opKindCount
)

var opKindNames = [opKindCount]string{"read", "write", "sync", "syncdir", "metadata"}

func (k OpKind) String() string {
	if k < opKindCount {
		return opKindNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// LatencyDist is the latency of one kind of operation:
//
//	Base + PerKiB*bytes/1024 + uniform[0, Jitter] + (with TailProb) min(Exp(TailMean), TailMax)
//
// where Exp is exponentially distributed; TailMax of zero leaves the tail uncapped.
type LatencyDist struct {
	Base     time.Duration
	PerKiB   time.Duration
	Jitter   time.Duration
	TailProb float64
	TailMean time.Duration
	TailMax  time.Duration
}

// LatencyModel holds one distribution per OpKind.
type LatencyModel struct {
	Read, Write, Sync, SyncDir, Metadata LatencyDist
}

// DefaultLatencyModel resembles an SSD behind a page cache: writes land in memory, syncs
// cost about a millisecond and occasionally stall for tens of milliseconds.
func DefaultLatencyModel() LatencyModel {
	return LatencyModel{
		Read:     LatencyDist{Base: 20 * time.Microsecond, PerKiB: time.Microsecond, Jitter: 20 * time.Microsecond, TailProb: 0.01, TailMean: time.Millisecond, TailMax: 20 * time.Millisecond},
		Write:    LatencyDist{Base: 5 * time.Microsecond, PerKiB: 250 * time.Nanosecond, Jitter: 5 * time.Microsecond},
		Sync:     LatencyDist{Base: 800 * time.Microsecond, Jitter: 400 * time.Microsecond, TailProb: 0.01, TailMean: 20 * time.Millisecond, TailMax: 500 * time.Millisecond},
		SyncDir:  LatencyDist{Base: 800 * time.Microsecond, Jitter: 400 * time.Microsecond, TailProb: 0.01, TailMean: 20 * time.Millisecond, TailMax: 500 * time.Millisecond},
		Metadata: LatencyDist{Base: 10 * time.Microsecond, Jitter: 10 * time.Microsecond},
	}
}

func (m LatencyModel) dist(op OpKind) LatencyDist {
	switch op {
	case OpRead:
		return m.Read
	case OpWrite:
		return m.Write
	case OpSync:
		return m.Sync
	case OpSyncDir:
		return m.SyncDir
	case OpMetadata:
		return m.Metadata
	}
	panic(fmt.Sprintf("disksim: unknown op kind %d", op))
}

func (m LatencyModel) validate() error {
	for k := OpKind(0); k < opKindCount; k++ {
		d := m.dist(k)
		if d.Base < 0 || d.PerKiB < 0 || d.Jitter < 0 || d.TailMean < 0 || d.TailMax < 0 {
			return fmt.Errorf("disksim: negative duration in %s latency", k)
		}
		if !(d.TailProb >= 0 && d.TailProb <= 1) {
			return fmt.Errorf("disksim: %s tail probability %v outside [0, 1]", k, d.TailProb)
		}
	}
	return nil
}

func (c Config) validate() error {
	if err := c.Crash.orDefault().validate(); err != nil {
		return err
	}
	if err := c.Faults.validate(); err != nil {
		return err
	}
	return c.Latency.validate()
}
