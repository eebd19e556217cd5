package traces

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// Magic opens every trace file, followed by a newline.
const Magic = "seedlog-trace v1"

// headerBytesMax bounds the JSON header a reader accepts (the Porcupine visualization it
// may hold is the large part).
const headerBytesMax = 64 << 20

// Header describes the run a trace comes from.
type Header struct {
	Seed uint64 `json:"seed"`
	// Config is the drawn configuration, as the run printed it.
	Config string `json:"config"`
	// Plants are the planted bugs switched on, by name.
	Plants []string `json:"plants,omitempty"`
	// BuildTags are the build tags of the binary that ran it; a replay needs the same.
	BuildTags []string `json:"build_tags,omitempty"`
	// Modes are the run options beyond the seed that change what it does ("flush-async"
	// for log.flush=async); a replay sets them again.
	Modes []string `json:"modes,omitempty"`
	// Duration is the safety phase's length when the run set it (nanoseconds; 0: the
	// seed's own draw); a replay sets it again.
	Duration int64 `json:"duration,omitempty"`
	// Fingerprint is the run's fingerprint; Events the number of events.
	Fingerprint uint64 `json:"fingerprint"`
	Events      int64  `json:"events"`
	// VirtualEnd is the virtual time the run ended at, in nanoseconds.
	VirtualEnd int64 `json:"virtual_end"`
	// Checker and Failure say what failed ("" for a passing run).
	Checker string `json:"checker,omitempty"`
	Failure string `json:"failure,omitempty"`
	// FailureAt is the virtual time of the failure, when it has one.
	FailureAt int64 `json:"failure_at,omitempty"`
	// Linearizability is Porcupine's own HTML visualization of the partition or key whose
	// check failed, when one did.
	Linearizability string `json:"linearizability,omitempty"`
	// Coverage holds the run's coverage counters.
	Coverage map[string]int64 `json:"coverage,omitempty"`
	// Schedule is the run's schedule in the scenario file format (seedlog sim run
	// --scenario reads it, seedlog sim shrink minimizes it): for a seed's run, the
	// faults and client operations its generators drew; for a scripted run (Scripted),
	// the scenario it replayed.
	Schedule string `json:"schedule,omitempty"`
	// Scripted says the run replayed Schedule instead of drawing its own.
	Scripted bool `json:"scripted,omitempty"`
	// Steps are a scripted run's steps, as it applied them; renderers mark them.
	Steps []Step `json:"steps,omitempty"`
}

// Step is one step of a scripted run's schedule, as the run applied it.
type Step struct {
	// At is when the step applied, or was skipped (virtual nanoseconds).
	At int64 `json:"at"`
	// Line is the step as the scenario file writes it, without its time.
	Line string `json:"line"`
	// Fault says the step is a fault; otherwise it is a client operation.
	Fault bool `json:"fault,omitempty"`
	// Node is the node a fault concerns (-1 for the network or every node), Client the
	// client of an operation (-1 for none).
	Node   int32 `json:"node"`
	Client int32 `json:"client"`
	// Op is the history operation the step started (its invoke event's A), 0 for none.
	Op int64 `json:"op,omitempty"`
	// Skipped says why the step did not apply ("" when it did).
	Skipped string `json:"skipped,omitempty"`
}

// Trace is a header and its events.
type Trace struct {
	Header Header
	Events []Event
}

// Write writes t in the trace file format to w.
func (t *Trace) Write(w io.Writer) error {
	if _, err := io.WriteString(w, Magic+"\n"); err != nil {
		return err
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	head, err := json.Marshal(t.Header)
	if err != nil {
		return err
	}
	var buf []byte
	buf = binary.AppendUvarint(buf, uint64(len(head)))
	buf = append(buf, head...)
	buf = binary.AppendUvarint(buf, uint64(len(t.Events)))
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	for i := range t.Events {
		buf = appendFileEvent(buf[:0], &t.Events[i])
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// appendFileEvent frames one event for a file: length, canonical encoding, text.
func appendFileEvent(dst []byte, e *Event) []byte {
	var body []byte
	body = AppendCanonical(body, e)
	body = binary.AppendUvarint(body, uint64(len(e.Text)))
	body = append(body, e.Text...)
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// WriteFile writes t to the file at path.
func (t *Trace) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	if err := t.Write(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("traces: write %s: %w", path, err)
	}
	return f.Close()
}

// ErrNotTrace says a file does not start with the trace magic.
var ErrNotTrace = errors.New("traces: not a seedlog trace file")

// Read reads a trace in the file format.
func Read(r io.Reader) (*Trace, error) {
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil || line != Magic+"\n" {
		return nil, ErrNotTrace
	}
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	in := bufio.NewReader(zr)
	head, err := readChunk(in, headerBytesMax)
	if err != nil {
		return nil, fmt.Errorf("traces: header: %w", err)
	}
	t := &Trace{}
	if err := json.Unmarshal(head, &t.Header); err != nil {
		return nil, fmt.Errorf("traces: header: %w", err)
	}
	n, err := binary.ReadUvarint(in)
	if err != nil {
		return nil, fmt.Errorf("traces: event count: %w", err)
	}
	t.Events = make([]Event, 0, min(n, 1<<20))
	for i := uint64(0); i < n; i++ {
		body, err := readChunk(in, eventBytesMax)
		if err != nil {
			return nil, fmt.Errorf("traces: event %d: %w", i, err)
		}
		var e Event
		used, err := decodeCanonical(body, &e)
		if err != nil {
			return nil, fmt.Errorf("traces: event %d: %w", i, err)
		}
		rd := reader{b: body, pos: used}
		e.Text = rd.str()
		if rd.err != nil || rd.pos != len(body) {
			return nil, fmt.Errorf("traces: event %d: %w", i, errBadEvent)
		}
		t.Events = append(t.Events, e)
	}
	return t, nil
}

func readChunk(r *bufio.Reader, limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("chunk of %d bytes exceeds %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadFile reads the trace file at path.
func ReadFile(path string) (*Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	t, err := Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// CheckFingerprint recomputes the fingerprint of t's events and compares it with the
// header's: a mismatch means the file was altered or the events were not all kept.
func (t *Trace) CheckFingerprint() error {
	if got := Fingerprint(t.Events); got != t.Header.Fingerprint {
		return fmt.Errorf("traces: events hash to %016x, header says %016x", got, t.Header.Fingerprint)
	}
	return nil
}

// Rerun runs a seed again and returns the new run's fingerprint. The simulator provides
// it; traces only compares.
type Rerun func(h Header) (fingerprint uint64, err error)

// VerifyReplay re-runs the header's seed with the same plants and checks that the run
// reproduces the recorded fingerprint. It fails when the build tags differ from those of
// the running binary (tags are passed in by the caller), since another build may behave
// differently.
func VerifyReplay(h Header, buildTags []string, rerun Rerun) error {
	if fmt.Sprint(h.BuildTags) != fmt.Sprint(buildTags) {
		return fmt.Errorf("traces: trace was recorded with build tags %v, this binary has %v", h.BuildTags, buildTags)
	}
	got, err := rerun(h)
	if err != nil {
		return fmt.Errorf("traces: replay of seed %d: %w", h.Seed, err)
	}
	if got != h.Fingerprint {
		return fmt.Errorf("traces: replay of seed %d gave fingerprint %016x, trace has %016x (nondeterminism or a different build)", h.Seed, got, h.Fingerprint)
	}
	return nil
}
