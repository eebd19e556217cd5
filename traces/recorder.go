package traces

import (
	"github.com/cespare/xxhash/v2"
)

// Recorder computes a run's fingerprint as events arrive and, when asked to, keeps them.
// It is not safe for concurrent use; one run owns one Recorder.
type Recorder struct {
	digest *xxhash.Digest
	// buf collects the canonical encodings of the events not yet hashed: the digest
	// takes them a few kilobytes at a time, which costs less than an event at a time
	// and hashes the same bytes in the same order.
	buf    []byte
	keep   bool
	events []Event
	count  int64
}

// recorderFlushBytes is how many encoded bytes the Recorder collects before hashing them.
const recorderFlushBytes = 4 << 10

// NewRecorder returns a Recorder; keep makes it hold every event for a trace file.
func NewRecorder(keep bool) *Recorder {
	return &Recorder{digest: xxhash.New(), keep: keep, buf: make([]byte, 0, recorderFlushBytes+256)}
}

// Keeping reports whether events are kept. Callers use it to skip formatting Text, which
// the fingerprint does not cover.
func (r *Recorder) Keeping() bool { return r.keep }

// Add hashes e into the fingerprint and keeps a copy if the Recorder keeps events.
// Checker verdicts (KindCheck) are kept but not hashed: a check's time limit can make its
// verdict differ between two runs of one seed, while the run itself does not.
func (r *Recorder) Add(e *Event) {
	if e.Kind != KindCheck {
		r.buf = AppendCanonical(r.buf, e)
		if len(r.buf) >= recorderFlushBytes {
			r.flush()
		}
	}
	r.count++
	if r.keep {
		r.events = append(r.events, *e)
	}
}

func (r *Recorder) flush() {
	_, _ = r.digest.Write(r.buf)
	r.buf = r.buf[:0]
}

// Fingerprint is xxhash64 over the canonical encodings of every event added so far.
func (r *Recorder) Fingerprint() uint64 {
	r.flush()
	return r.digest.Sum64()
}

// Count is the number of events added.
func (r *Recorder) Count() int64 { return r.count }

// Events returns the kept events (nil when not keeping).
func (r *Recorder) Events() []Event { return r.events }

// Fingerprint computes the fingerprint of a sequence of events, as a Recorder would.
func Fingerprint(events []Event) uint64 {
	d := xxhash.New()
	var buf []byte
	for i := range events {
		if events[i].Kind == KindCheck {
			continue
		}
		buf = AppendCanonical(buf[:0], &events[i])
		_, _ = d.Write(buf)
	}
	return d.Sum64()
}
