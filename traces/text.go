package traces

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Filter selects events for rendering. The zero Filter selects everything.
type Filter struct {
	// Node keeps events concerning this node (as Node or as Peer of a node-to-node
	// event). HasNode says the filter is set.
	Node    int32
	HasNode bool
	// Partition keeps events concerning "topic/partition".
	Partition string
	// From and To bound the virtual time, inclusive; To of 0 means no bound.
	From, To time.Duration
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	if f.HasNode && e.Node != f.Node && !(peerIsNode(e) && e.Peer == f.Node) {
		return false
	}
	if f.Partition != "" && !matchPartition(e, f.Partition) {
		return false
	}
	if e.At < int64(f.From) {
		return false
	}
	if f.To > 0 && e.At > int64(f.To) {
		return false
	}
	return true
}

// matchPartition reports whether e concerns partition "topic/p": events about the
// partition itself or about its whole topic.
func matchPartition(e *Event, partition string) bool {
	if e.Topic == "" {
		return false
	}
	if e.Part < 0 {
		return strings.HasPrefix(partition, e.Topic+"/") && !strings.Contains(partition[len(e.Topic)+1:], "/")
	}
	return e.Partition() == partition
}

// peerIsNode reports whether e's Peer field names a node rather than a client.
func peerIsNode(e *Event) bool {
	switch e.Kind {
	case KindInput:
		return e.Sub == InPeer
	case KindOutput:
		return e.Sub == OutMessage
	}
	return false
}

// ParsePartition checks a "topic/partition" filter.
func ParsePartition(s string) (string, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return "", fmt.Errorf("partition %q: want topic/partition, e.g. orders/3", s)
	}
	var p int32
	if _, err := fmt.Sscanf(s[i+1:], "%d", &p); err != nil || p < 0 || fmt.Sprint(p) != s[i+1:] {
		return "", fmt.Errorf("partition %q: %q is not a partition number", s, s[i+1:])
	}
	return s, nil
}

// FormatTime renders a virtual time as seconds with microsecond precision.
func FormatTime(at int64) string {
	return fmt.Sprintf("%12.6fs", float64(at)/float64(time.Second))
}

// stepsShownMax bounds the scenario steps a text header lists.
const stepsShownMax = 40

// WriteText writes the header and one line per selected event.
func WriteText(w io.Writer, t *Trace, f Filter) error {
	bw := bufio.NewWriter(w)
	writeHeaderText(bw, &t.Header)
	shown := 0
	for i := range t.Events {
		e := &t.Events[i]
		if !f.Match(e) {
			continue
		}
		shown++
		fmt.Fprintln(bw, FormatLine(e))
	}
	fmt.Fprintf(bw, "-- %d of %d events shown\n", shown, len(t.Events))
	return bw.Flush()
}

func writeHeaderText(w io.Writer, h *Header) {
	fmt.Fprintf(w, "seed %d  fingerprint %016x  events %d  virtual end %s\n", h.Seed, h.Fingerprint, h.Events, strings.TrimSpace(FormatTime(h.VirtualEnd)))
	if len(h.Plants) > 0 {
		fmt.Fprintf(w, "plants: %s\n", strings.Join(h.Plants, ","))
	}
	if len(h.BuildTags) > 0 {
		fmt.Fprintf(w, "build tags: %s\n", strings.Join(h.BuildTags, ","))
	}
	if h.Failure != "" {
		fmt.Fprintf(w, "FAILED (%s) at %s: %s\n", h.Checker, strings.TrimSpace(FormatTime(h.FailureAt)), h.Failure)
	} else {
		fmt.Fprintln(w, "passed")
	}
	if h.Scripted {
		faults, ops, skipped := stepCounts(h.Steps)
		fmt.Fprintf(w, "scenario replay: %d faults, %d client operations (%d not applied)\n", faults, ops, skipped)
		for i, st := range h.Steps {
			if i == stepsShownMax {
				fmt.Fprintf(w, "  ... %d more steps (seedlog trace html lists them all)\n", len(h.Steps)-i)
				break
			}
			status := ""
			if st.Skipped != "" {
				status = " (not applied: " + st.Skipped + ")"
			}
			fmt.Fprintf(w, "  step at %s %s%s\n", strings.TrimSpace(FormatTime(st.At)), st.Line, status)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(h.Config, "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// FormatLine renders one event as a line of text.
func FormatLine(e *Event) string {
	var b strings.Builder
	b.WriteString(FormatTime(e.At))
	b.WriteByte(' ')
	switch {
	case e.Node >= 0:
		fmt.Fprintf(&b, "n%-3d", e.Node)
	default:
		b.WriteString("    ")
	}
	fmt.Fprintf(&b, " %-8s %-13s", e.Kind, e.SubName())
	if e.Text != "" {
		b.WriteByte(' ')
		b.WriteString(e.Text)
	} else {
		fmt.Fprintf(&b, " peer=%d a=%d b=%d", e.Peer, e.A, e.B)
	}
	if p := e.Partition(); p != "" && !strings.Contains(e.Text, p) {
		fmt.Fprintf(&b, " [%s]", p)
	}
	return b.String()
}

// ParseTime parses a --from/--to value: a Go duration ("1.5s", "250ms") or plain seconds.
func ParseTime(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("time %q is negative", s)
		}
		return d, nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err != nil || secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
		return 0, fmt.Errorf("time %q: want a duration such as 1.5s or 250ms", s)
	}
	return time.Duration(secs * float64(time.Second)), nil
}
