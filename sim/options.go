package sim

import (
	"io"
	"time"

	"github.com/seedlog/seedlog/core/kafka/wire"
)

// Options configure one run. Only Seed is required once the defaults exist in the build
// (see DefaultOpenDisk and DefaultServed); tests and scenarios override the rest.
type Options struct {
	Seed uint64
	// Plants are planted bug names (core/plant); they need a simbugs build.
	Plants []string
	// KeepTrace keeps every event for a trace file; otherwise events are only hashed.
	KeepTrace bool
	// Machine builds node incarnations; nil means CoreMachine.
	Machine NewMachine
	// MachineFor, when set, builds the node factory from the drawn configuration and
	// takes precedence over Machine (for machines that need to know the cluster).
	MachineFor func(*Config) NewMachine
	// OpenDisk recovers a node's disk; nil means DefaultOpenDisk.
	OpenDisk OpenDisk
	// Served is the broker's table of served API versions; nil means DefaultServed.
	Served wire.Versions
	// Inspect reads the nodes' state for the invariants; nil means DefaultInspect.
	Inspect *Inspect
	// Adjust may change the drawn configuration before the run starts.
	Adjust func(*Config)
	// Invariants are checked after every step, in addition to the built-in ones.
	Invariants []Invariant
	// Log receives the configuration block and progress notes; nil discards them.
	Log io.Writer
	// CheckTimeout bounds each linearizability check; its expiry is reported as
	// "unknown", never as a pass. Zero means 10 seconds.
	CheckTimeout time.Duration
	// NoWorkload runs no clients (scenarios drive their own).
	NoWorkload bool
	// NoFaults switches every fault off whatever the seed drew.
	NoFaults bool
	// FlushAsync runs every topic with log.flush=async (Kafka's page-cache durability)
	// and puts correlated power losses in every fault mix: acknowledged acks=all records
	// may then be lost, which the run reports as allowed (Result.Allowed), not as a
	// failure.
	FlushAsync bool
	// Byzantine switches the byzantine client on (FaultConfig.Byzantine) whatever the
	// seed drew, even with NoFaults.
	Byzantine bool
	// Duration, when positive, is the length of the safety phase instead of the seed's
	// draw (15 to 45 seconds): longer runs reach what builds up slowly (segments rolled
	// and deleted, producer ids expiring, snapshots). A trace records it.
	Duration time.Duration
	// Schedule, when set, drives the run instead of the seed's generators: faults and
	// client operations come from it only, at their times (script.go). The configuration
	// is still the seed's.
	Schedule *Schedule
}

// DefaultOpenDisk is the disk executor used when Options.OpenDisk is nil; the build sets
// it to the shared executor (diskexec) that the real node uses too.
var DefaultOpenDisk OpenDisk

// DefaultServed is the served-versions table used when Options.Served is nil; the build
// sets it to the broker's own table.
var DefaultServed wire.Versions

// DefaultInspect reads quorum state from the real node; the build sets it once the node
// exposes its quorum.
var DefaultInspect = &Inspect{}
