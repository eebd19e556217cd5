// Package core is a seedlog node as a pure state machine: the controller quorum, the
// active controller, the broker's partitions and group coordinator and the Kafka API
// handlers, composed behind one small contract that both worlds drive.
//
// Inputs are method calls, each carrying the current time on the node's own clock:
// Start (what recovery found on disk), Request (a decoded client request), ConnClosed,
// Peer (an encoded message from another node), Done (a disk completion) and Tick (time
// passed). Outputs accumulate until Drain: client responses, messages to peers, disk
// work, notes for traces and logs. Deadline tells the shell when to call Tick next.
//
// The node never blocks, never reads a clock and never touches a file. Outputs that may
// leave only after disk work completes (a vote after its quorum state is synced, an
// acks=all produce after the ISR synced, an offset commit after it is durable) are held
// inside the node behind a disk.Gate and appear in Drain only after the Done that
// releases them, so a shell cannot send them early.
package core

import (
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConnID identifies a client connection; the shell assigns it and reports its closing.
type ConnID uint64

// Request is a decoded client request.
type Request struct {
	Conn     ConnID
	Corr     int32 // correlation id, echoed in the response
	Key      int16
	Version  int16
	ClientID string
	// Listener names the listener the request arrived on; Metadata answers with each
	// broker's listener of that name. Empty: the first one.
	Listener string
	// Host is the client's address (without port), which ACLs may name.
	Host string
	// Principal is the identity the shell proved for the connection, such as the
	// subject of a verified TLS client certificate ("User:CN=..."); empty: none. A SASL
	// authentication on the connection overrides it; without either, the client is
	// User:ANONYMOUS.
	Principal string
	// Entropy is fresh randomness the shell draws for a SaslAuthenticate request (a
	// SCRAM server nonce); the node itself has only its seeded PRNG, which a stranger
	// could predict. Zero for every other request.
	Entropy [EntropyBytes]byte
	// ThreadNanos is the time the shell spent on this connection's requests that it has
	// not reported yet: decoding this one, handling and encoding earlier ones. It counts
	// against request_percentage quotas; the node measures it, the simulator draws it
	// from a cost model.
	ThreadNanos int64
	// Msg is the decoded request, with Msg.GetVersion() == Version. It is nil when the
	// key or version is not served (wire.ErrUnsupported): the node answers ApiVersions
	// with its version-0 error response and closes the connection for anything else.
	Msg kmsg.Request
}

// Response is a client response, emitted in request order per connection. Msg's version
// is set to the request's. A nil Msg is the completion of a request that gets no
// response (an acks=0 produce): the shell sends nothing, and the request no longer
// counts against the connection's in-flight bound (Config.InFlightPerConnMax).
type Response struct {
	Conn ConnID
	Corr int32
	Msg  kmsg.Response
}

// Message is an encoded message to a peer node: Payload followed by Records. Payload is
// the message's own, never shared with another message: the shell may append to it (a
// frame's authentication tag, after Records) and use its spare capacity. Records, when
// not empty, are a replica fetch answer's batches as its disk Read returned them (a new
// slice per Read without Spans), sent without a copy into Payload: read-only, and never
// written or reused by the core, so the shell may write them to a socket later, from
// another goroutine.
type Message struct {
	To      int32
	Payload []byte
	Records []byte
}

// Note is something worth a trace line, a log line or a coverage count: an election, a
// truncation, a fence. Kind is a short stable token; Text is for people.
type Note struct {
	Kind string
	Text string
	// Group is the coordinator's event a note of a group-* kind reports, for checkers
	// that follow expiries and removals; nil for other notes.
	Group *group.Event
}

func (n Note) String() string { return n.Kind + ": " + n.Text }

// Output is everything a node asks of its shell since the last Drain.
type Output struct {
	Responses []Response
	// Close lists connections the node gave up on (a protocol violation); the shell
	// closes them after sending the Responses above.
	Close    []ConnID
	Messages []Message
	Ops      []disk.Op
	Notes    []Note
	// Fatal, when set, means the node stopped: its durable state is unknown (a failed
	// write or sync) or an invariant broke. The shell discards the node and starts a new
	// one from disk recovery. Nothing else in this Output may be acted on except Notes.
	Fatal error
}

// Empty reports whether the output holds nothing.
func (o *Output) Empty() bool {
	return len(o.Responses) == 0 && len(o.Close) == 0 && len(o.Messages) == 0 &&
		len(o.Ops) == 0 && len(o.Notes) == 0 && o.Fatal == nil
}

// FatalError is what Output.Fatal holds.
type FatalError struct {
	Node   int32
	Reason string
	// Invariant says the stop has no disk fault behind it: the node's state contradicts
	// what was committed (a metadata log asked to truncate below its high watermark, or
	// left diverging; a committed record or a leader's snapshot that does not apply). A
	// restart does not make it right: the simulator fails the run.
	Invariant bool
}

func (e *FatalError) Error() string { return fmt.Sprintf("node %d stopped: %s", e.Node, e.Reason) }

// InputBatchMax bounds the inputs a shell hands the node before it drains the outputs
// of all of them at once (one Drain carries the outputs of many inputs: fewer disk
// batches and socket writes). The real node's loop takes up to this many inputs that are
// already waiting; the simulator delivers up to this many that arrive at nearly the same
// virtual time, in seeded batch sizes. A disk batch's completions count as one input.
const InputBatchMax = 64

// NoDeadline is what Deadline returns when nothing is scheduled.
const NoDeadline = int64(1<<63 - 1)
