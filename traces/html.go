package traces

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
)

// The timeline's geometry, in SVG user units.
const (
	htmlWidth    = 1400
	htmlLabelW   = 110
	htmlLaneH    = 26
	htmlColumns  = 700 // activity is counted per column of the time axis
	htmlMarksMax = 4000
)

// WriteHTML renders t as one self-contained HTML page: no scripts or styles are fetched.
// It shows a timeline per node (activity, crashes, pauses, faults, notes), client
// operations as bars, and, when a linearizability check failed, Porcupine's
// visualization embedded as it was saved in the header.
func WriteHTML(w io.Writer, t *Trace) error {
	bw := bufio.NewWriter(w)
	p := newPlot(t)
	fmt.Fprintf(bw, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>seedlog trace seed %d</title>\n<style>%s</style></head><body>\n", t.Header.Seed, htmlCSS)
	writeHTMLHeader(bw, &t.Header)
	p.write(bw)
	writeHTMLSteps(bw, &t.Header)
	writeHTMLFaults(bw, t)
	if t.Header.Linearizability != "" {
		fmt.Fprintf(bw, "<h2>Linearizability (Porcupine)</h2>\n<iframe class=\"porcupine\" sandbox=\"allow-scripts\" srcdoc=\"%s\"></iframe>\n", html.EscapeString(t.Header.Linearizability))
	}
	fmt.Fprintln(bw, "</body></html>")
	return bw.Flush()
}

const htmlCSS = `body{font-family:system-ui,sans-serif;margin:16px;color:#222}
pre{background:#f6f6f6;padding:8px;font-size:12px}
.fail{color:#b00;font-weight:bold}.pass{color:#070;font-weight:bold}
svg text{font-size:11px;font-family:monospace}
table{border-collapse:collapse;font-size:12px;font-family:monospace}
td{padding:1px 8px;border-bottom:1px solid #eee;vertical-align:top}
iframe.porcupine{width:100%;height:800px;border:1px solid #ccc}
tr.step td{background:#fff6c8}tr.skipped td{color:#888}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}`

func writeHTMLHeader(w io.Writer, h *Header) {
	fmt.Fprintf(w, "<h1>seedlog simulation, seed %d</h1>\n", h.Seed)
	if h.Failure != "" {
		fmt.Fprintf(w, "<p class=\"fail\">FAILED (%s) at %s: %s</p>\n", html.EscapeString(h.Checker), FormatTime(h.FailureAt), html.EscapeString(h.Failure))
	} else {
		fmt.Fprintln(w, "<p class=\"pass\">passed</p>")
	}
	fmt.Fprintf(w, "<p>fingerprint %016x, %d events, virtual end %s", h.Fingerprint, h.Events, FormatTime(h.VirtualEnd))
	if len(h.Plants) > 0 {
		fmt.Fprintf(w, ", plants: %s", html.EscapeString(strings.Join(h.Plants, ",")))
	}
	fmt.Fprintln(w, "</p>")
	fmt.Fprintf(w, "<details><summary>configuration</summary><pre>%s</pre></details>\n", html.EscapeString(h.Config))
	if h.Scripted {
		faults, ops, skipped := stepCounts(h.Steps)
		fmt.Fprintf(w, "<p>A scenario replay: %d faults and %d client operations from its schedule (%d not applied), marked in the timeline below.</p>\n", faults, ops, skipped)
		fmt.Fprintf(w, "<details><summary>scenario</summary><pre>%s</pre></details>\n", html.EscapeString(h.Schedule))
	}
}

func stepCounts(steps []Step) (faults, ops, skipped int) {
	for _, st := range steps {
		if st.Fault {
			faults++
		} else {
			ops++
		}
		if st.Skipped != "" {
			skipped++
		}
	}
	return faults, ops, skipped
}

// writeHTMLSteps lists a scripted run's steps and what became of each.
func writeHTMLSteps(w io.Writer, h *Header) {
	if len(h.Steps) == 0 {
		return
	}
	fmt.Fprintln(w, "<h2>Scenario steps</h2><table>")
	for i, st := range h.Steps {
		class, status := "step", "applied"
		if st.Skipped != "" {
			class, status = "skipped", "not applied: "+st.Skipped
		}
		if st.Op > 0 {
			status += fmt.Sprintf(" (op %d)", st.Op)
		}
		fmt.Fprintf(w, "<tr class=\"%s\"><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", class, i+1, FormatTime(st.At), html.EscapeString(st.Line), html.EscapeString(status))
	}
	fmt.Fprintln(w, "</table>")
}

// plot is the timeline: lanes for nodes and clients over virtual time.
type plot struct {
	t       *Trace
	end     int64
	nodes   []int32
	clients []int32
}

func newPlot(t *Trace) *plot {
	p := &plot{t: t, end: max(t.Header.VirtualEnd, 1)}
	seenN, seenC := map[int32]bool{}, map[int32]bool{}
	for i := range t.Events {
		e := &t.Events[i]
		p.end = max(p.end, e.At)
		if e.Node >= 0 && !seenN[e.Node] {
			seenN[e.Node] = true
			p.nodes = append(p.nodes, e.Node)
		}
		if (e.Kind == KindInvoke || e.Kind == KindComplete) && !seenC[e.Peer] {
			seenC[e.Peer] = true
			p.clients = append(p.clients, e.Peer)
		}
	}
	for _, st := range t.Header.Steps {
		if st.Client >= 0 && !seenC[st.Client] {
			seenC[st.Client] = true
			p.clients = append(p.clients, st.Client)
		}
	}
	slices.Sort(p.nodes)
	slices.Sort(p.clients)
	return p
}

func (p *plot) x(at int64) float64 {
	return htmlLabelW + float64(at)/float64(p.end)*float64(htmlWidth-htmlLabelW-10)
}

func (p *plot) write(w io.Writer) {
	lanes := len(p.nodes) + len(p.clients) + 1
	height := 30 + lanes*htmlLaneH
	fmt.Fprintln(w, `<h2>Timeline</h2><div class="legend"><span><i style="background:#9bd"></i>activity</span><span><i style="background:#e66"></i>crashed</span><span><i style="background:#fc6"></i>paused</span><span><i style="background:#c39"></i>fault</span><span><i style="background:#393"></i>note</span><span><i style="background:#6b6"></i>op ok</span><span><i style="background:#d93"></i>op failed</span><span><i style="background:#999"></i>op indeterminate</span><span><i style="background:#fc0;border:1px solid #000"></i>scenario step</span></div>`)
	fmt.Fprintf(w, "<svg width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n", htmlWidth, height)
	p.axis(w, height)
	lane := map[int32]int{}
	for i, n := range p.nodes {
		lane[n] = i
		p.laneLabel(w, i, fmt.Sprintf("node %d", n))
	}
	netLane := len(p.nodes)
	p.laneLabel(w, netLane, "network")
	clientLane := map[int32]int{}
	for i, c := range p.clients {
		clientLane[c] = netLane + 1 + i
		p.laneLabel(w, netLane+1+i, fmt.Sprintf("client %d", c))
	}
	p.activity(w, lane)
	p.downtime(w, lane)
	p.marks(w, lane, netLane)
	p.ops(w, clientLane)
	p.steps(w, lane, netLane, clientLane)
	if h := p.t.Header; h.Failure != "" {
		x := p.x(h.FailureAt)
		fmt.Fprintf(w, "<line x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%d\" stroke=\"#b00\" stroke-width=\"2\"><title>%s</title></line>\n", x, x, height, html.EscapeString(h.Failure))
	}
	fmt.Fprintln(w, "</svg>")
}

func laneY(i int) int { return 24 + i*htmlLaneH }

func (p *plot) laneLabel(w io.Writer, i int, label string) {
	y := laneY(i)
	fmt.Fprintf(w, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", htmlLabelW, y, htmlWidth-htmlLabelW-10, htmlLaneH-2, []string{"#fafafa", "#f2f2f2"}[i%2])
	fmt.Fprintf(w, "<text x=\"4\" y=\"%d\">%s</text>\n", y+16, html.EscapeString(label))
}

func (p *plot) axis(w io.Writer, height int) {
	for i := 0; i <= 10; i++ {
		at := p.end * int64(i) / 10
		x := p.x(at)
		fmt.Fprintf(w, "<line x1=\"%.1f\" y1=\"18\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"12\">%s</text>\n", x, x, height, x-20, strings.TrimSpace(FormatTime(at)))
	}
}

// activity draws, per node lane, how many inputs the node took in each column.
func (p *plot) activity(w io.Writer, lane map[int32]int) {
	counts := make([][]int, len(p.nodes))
	for i := range counts {
		counts[i] = make([]int, htmlColumns)
	}
	peak := 1
	for i := range p.t.Events {
		e := &p.t.Events[i]
		if e.Kind != KindInput || e.Node < 0 {
			continue
		}
		col := min(int(e.At*htmlColumns/(p.end+1)), htmlColumns-1)
		c := &counts[lane[e.Node]][col]
		*c++
		peak = max(peak, *c)
	}
	colW := float64(htmlWidth-htmlLabelW-10) / htmlColumns
	for li, row := range counts {
		y := laneY(li)
		for col, c := range row {
			if c == 0 {
				continue
			}
			h := 2 + float64(htmlLaneH-6)*float64(c)/float64(peak)
			fmt.Fprintf(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#9bd\"/>\n", htmlLabelW+float64(col)*colW, float64(y+htmlLaneH-3)-h, max(colW, 1), h)
		}
	}
}

// downtime shades crashed and paused intervals of each node.
func (p *plot) downtime(w io.Writer, lane map[int32]int) {
	crashed, paused := map[int32]int64{}, map[int32]int64{}
	band := func(n int32, from, to int64, color, what string) {
		y := laneY(lane[n])
		fmt.Fprintf(w, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" opacity=\"0.6\"><title>node %d %s %s..%s</title></rect>\n",
			p.x(from), y, max(p.x(to)-p.x(from), 1), htmlLaneH-2, color, n, what, strings.TrimSpace(FormatTime(from)), strings.TrimSpace(FormatTime(to)))
	}
	for i := range p.t.Events {
		e := &p.t.Events[i]
		if e.Kind != KindFault || e.Node < 0 {
			continue
		}
		switch e.Sub {
		case FaultCrash, FaultStopped:
			crashed[e.Node] = e.At
		case FaultRestart:
			if from, ok := crashed[e.Node]; ok {
				band(e.Node, from, e.At, "#e66", "crashed")
				delete(crashed, e.Node)
			}
		case FaultPause:
			paused[e.Node] = e.At
		case FaultResume:
			if from, ok := paused[e.Node]; ok {
				band(e.Node, from, e.At, "#fc6", "paused")
				delete(paused, e.Node)
			}
		}
	}
	for _, n := range p.nodes {
		if from, ok := crashed[n]; ok {
			band(n, from, p.end, "#e66", "crashed")
		}
		if from, ok := paused[n]; ok {
			band(n, from, p.end, "#fc6", "paused")
		}
	}
}

// marks draws faults and notes as small ticks with tooltips.
func (p *plot) marks(w io.Writer, lane map[int32]int, netLane int) {
	drawn := 0
	for i := range p.t.Events {
		e := &p.t.Events[i]
		var color string
		switch {
		case e.Kind == KindFault:
			color = "#c39"
		case e.Kind == KindOutput && (e.Sub == OutNote || e.Sub == OutFatal):
			color = "#393"
		case e.Kind == KindPhase:
			color = "#333"
		default:
			continue
		}
		if drawn >= htmlMarksMax {
			break
		}
		drawn++
		li := netLane
		if e.Node >= 0 {
			li = lane[e.Node]
		}
		y := laneY(li)
		x := p.x(e.At)
		fmt.Fprintf(w, "<rect x=\"%.1f\" y=\"%d\" width=\"2\" height=\"%d\" fill=\"%s\"><title>%s</title></rect>\n", x, y+1, htmlLaneH/2, color, html.EscapeString(FormatLine(e)))
	}
}

// steps marks a scripted run's steps: a flag on the lane of the node, the network or
// the client each concerns (operations' bars are outlined by ops).
func (p *plot) steps(w io.Writer, lane map[int32]int, netLane int, clientLane map[int32]int) {
	for i, st := range p.t.Header.Steps {
		li := netLane
		if l, ok := lane[st.Node]; ok && st.Node >= 0 {
			li = l
		} else if l, ok := clientLane[st.Client]; ok && st.Client >= 0 {
			li = l
		}
		x, y := p.x(st.At), laneY(li)
		fill, tip := "#fc0", fmt.Sprintf("step %d at %s: %s", i+1, strings.TrimSpace(FormatTime(st.At)), st.Line)
		if st.Skipped != "" {
			fill, tip = "#fff", tip+" (not applied: "+st.Skipped+")"
		}
		fmt.Fprintf(w, "<polygon points=\"%.1f,%d %.1f,%d %.1f,%d\" fill=\"%s\" stroke=\"#000\" stroke-width=\"1\"><title>%s</title></polygon>\n",
			x, y+htmlLaneH-2, x-5, y+htmlLaneH-11, x+5, y+htmlLaneH-11, fill, html.EscapeString(tip))
	}
}

// ops draws each client operation as a bar from invocation to completion; those a
// scripted run's steps started are outlined.
func (p *plot) ops(w io.Writer, lane map[int32]int) {
	type open struct {
		at   int64
		text string
	}
	pending := map[int64]open{}
	var order []int64
	drawn := 0
	stepOf := map[int64]int{}
	for i, st := range p.t.Header.Steps {
		if st.Op > 0 {
			stepOf[st.Op] = i + 1
		}
	}
	bar := func(client int32, op, from, to int64, color, tip string) {
		if drawn >= htmlMarksMax {
			return
		}
		drawn++
		y := laneY(lane[client])
		stroke := `stroke="#fff" stroke-width="0.5"`
		if n, ok := stepOf[op]; ok {
			stroke = `stroke="#000" stroke-width="2"`
			tip = fmt.Sprintf("step %d: %s", n, tip)
		}
		fmt.Fprintf(w, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" %s><title>%s</title></rect>\n",
			p.x(from), y+3, max(p.x(to)-p.x(from), 2), htmlLaneH-8, color, stroke, html.EscapeString(tip))
	}
	for i := range p.t.Events {
		e := &p.t.Events[i]
		switch e.Kind {
		case KindInvoke:
			pending[e.A] = open{at: e.At, text: e.Text}
			order = append(order, e.A)
		case KindComplete:
			o, ok := pending[e.A]
			if !ok {
				continue
			}
			delete(pending, e.A)
			color := map[uint8]string{OpOK: "#6b6", OpFailed: "#d93", OpIndeterminate: "#999"}[e.Sub]
			bar(e.Peer, e.A, o.at, e.At, color, o.text+" => "+e.Text)
		}
	}
	for _, id := range order {
		if o, ok := pending[id]; ok {
			// Never completed: the run ended first.
			for i := range p.t.Events {
				if e := &p.t.Events[i]; e.Kind == KindInvoke && e.A == id {
					bar(e.Peer, id, o.at, p.end, "#ccc", o.text+" => (still running)")
					break
				}
			}
		}
	}
}

// writeHTMLFaults lists faults, notes, phases and checker verdicts in a table.
func writeHTMLFaults(w io.Writer, t *Trace) {
	fmt.Fprintln(w, "<h2>Faults, notes and checks</h2><table>")
	shown := 0
	for i := range t.Events {
		e := &t.Events[i]
		keep := e.Kind == KindFault || e.Kind == KindPhase || e.Kind == KindCheck ||
			(e.Kind == KindOutput && (e.Sub == OutNote || e.Sub == OutFatal))
		if !keep {
			continue
		}
		if shown == htmlMarksMax {
			fmt.Fprintln(w, "<tr><td colspan=\"3\">(more omitted; use seedlog trace show)</td></tr>")
			break
		}
		shown++
		node := ""
		if e.Node >= 0 {
			node = fmt.Sprintf("n%d", e.Node)
		}
		fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td><td>%s %s</td></tr>\n", FormatTime(e.At), node, html.EscapeString(e.Kind.String()+" "+e.SubName()), html.EscapeString(e.Text))
	}
	fmt.Fprintln(w, "</table>")
}
