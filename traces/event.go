// Package traces records what happened in one simulated seedlog run, gives the run a
// fingerprint, stores failing runs in trace files and renders them for people.
//
// # Events
//
// An Event is one thing the simulator did or saw: an input delivered to a node, an output a
// node emitted, a fault injected, a client operation invoked or completed, a phase change, a
// checker verdict. Its fields are compact and typed (see Event); the meaning of A, B and
// Hash depends on Kind and Sub and is listed next to each Sub constant. Text is a short
// summary for people.
//
// # Fingerprint
//
// The canonical encoding of an event (AppendCanonical) covers every typed field and leaves
// Text out: the summary is derived from the same data, and leaving it out lets a run that
// does not keep its trace skip formatting text while still computing the same fingerprint.
// A run's fingerprint is xxhash64 over the canonical encodings of all its events in order,
// computed as the run goes (Recorder), except checker verdicts (KindCheck): a check with a
// time limit may answer differently on a slower machine, the run does not. Two runs of one seed on one build must produce the
// same fingerprint; a difference means nondeterminism.
//
// # Files
//
// A trace file (WriteFile, ReadFile) is a magic line followed by one zstd stream holding a
// JSON header (seed, drawn configuration, plants, build tags, fingerprint, failure and, when
// a linearizability check failed, Porcupine's visualization of it) and the events, each as
// its canonical encoding followed by its text.
package traces

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind is the broad class of an event.
type Kind uint8

// The kinds of events.
const (
	KindInput    Kind = iota + 1 // an input delivered to a node
	KindOutput                   // an output a node emitted
	KindFault                    // a fault injected or healed
	KindInvoke                   // a client operation began
	KindComplete                 // a client operation ended
	KindPhase                    // the run moved to another phase
	KindCheck                    // a checker reported something
	kindEnd
)

var kindNames = [...]string{"?", "in", "out", "fault", "invoke", "complete", "phase", "check"}

func (k Kind) String() string {
	if k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sub values for KindInput. Node is the receiving node.
const (
	InStart      uint8 = iota + 1 // A: incarnation; B: logs recovered; Hash: recovery digest
	InRequest                     // Peer: client; A: correlation id; B: key<<16|version; Hash: frame
	InConnClosed                  // Peer: client; A: connection id
	InPeer                        // Peer: sending node; A: payload bytes; Hash: payload
	InDone                        // A: op id; B: op kind; Hash: data read (0 if none); Topic/Part: log
	InTick                        // A: the node's local time
)

// Sub values for KindOutput. Node is the emitting node.
const (
	OutResponse uint8 = iota + 1 // Peer: client; A: correlation id; B: api key; Hash: frame
	OutClose                     // Peer: client; A: connection id
	OutMessage                   // Peer: destination node; A: payload bytes; Hash: payload
	OutOp                        // A: op id; B: op kind; Hash: op data; Topic/Part: log
	OutNote                      // Hash: hash of the note's kind and text
	OutFatal                     // Hash: hash of the reason
)

// Sub values for KindFault. Node is the node concerned, or -1 for the network.
const (
	FaultCrash       uint8 = iota + 1 // A: incarnation that died
	FaultRestart                      // A: new incarnation
	FaultPause                        // A: virtual time of the planned resume
	FaultResume                       // A: inputs that were buffered
	FaultPartition                    // Hash: hash of the fault's description
	FaultClog                         // Peer: destination; A: clog end (virtual)
	FaultHeal                         // the network healed
	FaultLinkRates                    // A: loss, B: duplication, in parts per million
	FaultDisk                         // A: EIO write+sync ppm, B: ENOSPC ppm
	FaultCorrupt                      // A: offset; B: bytes; Hash: file name
	FaultClockJump                    // A: nanoseconds the clock jumped forward
	FaultStreamBreak                  // Peer: client; A: stream id
	FaultStop                         // faults stopped (start of the liveness phase)
	FaultAttack                       // Peer: claimed sender or -1; A: bytes; B: listener (1 client, 2 peer, 3 peer handshake); Hash: the bytes
	FaultShutdown                     // a SIGTERM: controlled shutdown; A: when it times out (virtual)
	FaultStopped                      // the process exited after a controlled shutdown; A: incarnation that stopped; B: 1 when ready, 0 when it timed out
)

// Sub values for KindInvoke and KindComplete. Peer is the client, Node the broker it was
// sent to (or -1).
const (
	OpOK            uint8 = iota + 1 // KindComplete: the operation has a definite result
	OpFailed                         // KindComplete: definite failure, no effect
	OpIndeterminate                  // KindComplete: unknown whether it took effect
)

// Sub values for KindPhase: A is the phase number.
const (
	PhaseSafety uint8 = iota + 1
	PhaseLiveness
	PhaseFinalReads
	PhaseEnd
)

// Sub values for KindCheck.
const (
	CheckViolation uint8 = iota + 1 // an invariant or history checker failed
	CheckUnknown                    // a check ran out of time
	CheckPassed
)

// Event is one entry of a trace.
type Event struct {
	At   int64 // virtual time, nanoseconds since the start of the run
	Kind Kind
	Sub  uint8
	Node int32 // the node concerned, -1 for none
	Peer int32 // the other party (node or client id), -1 for none
	A, B int64
	Hash uint64
	// Topic and Part name the partition the event concerns ("" when none); the metadata
	// log is topic "__cluster_metadata", partition 0. Part is -1 for an event about a
	// whole topic (creating it, for example).
	Topic string
	Part  int32
	// Text summarizes the event for people. It is not part of the canonical encoding.
	Text string
}

// eventBytesMax bounds one encoded event in a file, so that a corrupt length cannot make
// the reader allocate without limit.
const eventBytesMax = 1 << 20

// AppendCanonical appends the canonical encoding of e (every field except Text).
func AppendCanonical(dst []byte, e *Event) []byte {
	dst = binary.AppendVarint(dst, e.At)
	dst = append(dst, byte(e.Kind), e.Sub)
	dst = binary.AppendVarint(dst, int64(e.Node))
	dst = binary.AppendVarint(dst, int64(e.Peer))
	dst = binary.AppendVarint(dst, e.A)
	dst = binary.AppendVarint(dst, e.B)
	dst = binary.BigEndian.AppendUint64(dst, e.Hash)
	dst = binary.AppendUvarint(dst, uint64(len(e.Topic)))
	dst = append(dst, e.Topic...)
	dst = binary.AppendVarint(dst, int64(e.Part))
	return dst
}

var errBadEvent = errors.New("traces: malformed event")

// decodeCanonical reads one canonical encoding from b and returns the bytes consumed.
func decodeCanonical(b []byte, e *Event) (int, error) {
	r := reader{b: b}
	e.At = r.varint()
	e.Kind = Kind(r.byte())
	e.Sub = r.byte()
	e.Node = int32(r.varint())
	e.Peer = int32(r.varint())
	e.A = r.varint()
	e.B = r.varint()
	e.Hash = r.u64()
	e.Topic = r.str()
	e.Part = int32(r.varint())
	if r.err != nil {
		return 0, r.err
	}
	if e.Kind == 0 || e.Kind >= kindEnd {
		return 0, fmt.Errorf("%w: kind %d", errBadEvent, e.Kind)
	}
	return r.pos, nil
}

// reader decodes the canonical encoding; the first error sticks.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errBadEvent
	}
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.pos += n
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.pos += n
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.fail()
		return 0
	}
	v := r.b[r.pos]
	r.pos++
	return v
}

func (r *reader) u64() uint64 {
	if r.err != nil || len(r.b)-r.pos < 8 {
		r.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.pos:])
	r.pos += 8
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)-r.pos) {
		r.fail()
		return ""
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s
}

// Partition returns the "topic/partition" an event concerns, "topic" for a whole topic,
// or "" for none.
func (e *Event) Partition() string {
	switch {
	case e.Topic == "":
		return ""
	case e.Part < 0:
		return e.Topic
	}
	return fmt.Sprintf("%s/%d", e.Topic, e.Part)
}

// SubName names e.Sub within its kind, for renderers.
func (e *Event) SubName() string {
	names := subNames[e.Kind]
	if int(e.Sub) < len(names) && names[e.Sub] != "" {
		return names[e.Sub]
	}
	return fmt.Sprintf("sub(%d)", e.Sub)
}

var subNames = map[Kind][]string{
	KindInput:    {"", "start", "request", "conn-closed", "peer", "done", "tick"},
	KindOutput:   {"", "response", "close", "message", "op", "note", "fatal"},
	KindFault:    {"", "crash", "restart", "pause", "resume", "partition", "clog", "heal", "link-rates", "disk", "corrupt", "clock-jump", "stream-break", "stop", "attack"},
	KindInvoke:   {"", "invoke", "invoke", "invoke"},
	KindComplete: {"", "ok", "failed", "indeterminate"},
	KindPhase:    {"", "safety", "liveness", "final-reads", "end"},
	KindCheck:    {"", "violation", "unknown", "passed"},
}
