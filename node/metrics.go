package node

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bucketBounds are the upper bounds of every latency histogram, in seconds: from 50µs (a
// fetch served from memory) to 10s (a request waiting out a leader election).
var bucketBounds = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// histogram is a lock-free Prometheus histogram.
type histogram struct {
	counts [17 + 1]atomic.Int64 // one per bound, then +Inf
	sumNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(bucketBounds, s)
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// metrics holds the counters written by connection, peer and disk goroutines. Gauges
// that describe the core's state are read on the loop goroutine at scrape time.
type metrics struct {
	requests     [kmsg.MaxKey + 1]atomic.Int64
	latency      [kmsg.MaxKey + 1]histogram
	bytesIn      atomic.Int64
	bytesOut     atomic.Int64
	badFrames    atomic.Int64
	connsOpened  atomic.Int64
	connsRefused atomic.Int64
	// connsIdleClosed and framesTimedOut count client connections closed for idling and
	// for stalling mid-request; acceptErrors failed accepts (descriptors exhausted).
	connsIdleClosed atomic.Int64
	framesTimedOut  atomic.Int64
	acceptErrors    atomic.Int64
	// peerAuthFailed counts peer handshakes and frames that failed authentication;
	// peerRefused peer connections refused at peer.connections.max.
	peerAuthFailed atomic.Int64
	peerRefused    atomic.Int64
	peerBytesIn    atomic.Int64
	peerBytesOut   atomic.Int64
	peerDropped    atomic.Int64
	fsync          histogram
	fsyncBatchOps  atomic.Int64
}

func newMetrics() *metrics {
	if len(bucketBounds)+1 != len(histogram{}.counts) {
		panic("node: histogram bucket count")
	}
	return &metrics{}
}

func (m *metrics) requestDone(key int16, d time.Duration) {
	if key >= 0 && int(key) < len(m.requests) {
		m.requests[key].Add(1)
		m.latency[key].observe(d)
	}
}

func (m *metrics) requestSilent(key int16) {
	if key >= 0 && int(key) < len(m.requests) {
		m.requests[key].Add(1)
	}
}

// coreGauges is the core's state at one scrape.
type coreGauges struct {
	ok             bool
	quorumRole     string
	quorumEpoch    int32
	quorumLeader   int32
	quorumHW       int64
	quorumEnd      int64
	leaseValid     bool
	partitions     []partitionGauge
	underReplicate int
	groups         int
}

type partitionGauge struct {
	topic         string
	partition     int32
	leader        bool
	isr, replicas int
	hw, leo       int64
}

// gauges reads the core's state on the loop goroutine.
func (n *Node) gauges() coreGauges {
	var g coreGauges
	g.ok = n.onLoop(func() {
		q := n.core.Quorum()
		g.quorumRole, g.quorumEpoch, g.quorumLeader = q.Role.String(), q.Epoch, q.Leader
		g.quorumHW, g.quorumEnd = q.HW, q.EndOffset
		g.leaseValid = n.core.LeaseValid(n.clock.now())
		im := n.core.Image()
		for _, r := range n.core.Replicas() {
			pg := partitionGauge{topic: r.Topic, partition: r.Partition, leader: r.Role == partition.RoleLeader,
				isr: len(r.ISR), hw: r.HighWatermark, leo: r.LogEndOffset}
			if ps, ok := im.Partition(r.TopicID, r.Partition); ok {
				pg.replicas = len(ps.Replicas)
			}
			if pg.leader && pg.isr < pg.replicas {
				g.underReplicate++
			}
			g.partitions = append(g.partitions, pg)
		}
		g.groups = len(n.core.GroupStatus())
	}, 2*time.Second)
	return g
}

func (n *Node) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		n.writeMetrics(w)
	})
	if n.cfg.MetricsPprof {
		// Profiles of the running broker (the loop, the disk worker, the connections),
		// only when asked for: they reveal the broker's internals.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}

// writeMetrics writes the Prometheus text exposition format.
func (n *Node) writeMetrics(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	m := n.metrics
	e := expo{w: bw}
	e.header("seedlog_requests_total", "counter", "client requests by API")
	for k := range m.requests {
		if v := m.requests[k].Load(); v > 0 {
			e.sample("seedlog_requests_total", apiLabel(k), float64(v))
		}
	}
	e.header("seedlog_request_duration_seconds", "histogram", "client request latency, frame read to response written, by API")
	for k := range m.latency {
		if m.requests[k].Load() > 0 {
			e.histogram("seedlog_request_duration_seconds", apiLabel(k), &m.latency[k])
		}
	}
	e.counter("seedlog_client_bytes_in_total", "bytes read from clients", m.bytesIn.Load())
	e.counter("seedlog_client_bytes_out_total", "bytes written to clients", m.bytesOut.Load())
	e.counter("seedlog_bad_frames_total", "client frames that closed their connection (oversized, truncated, malformed)", m.badFrames.Load())
	e.counter("seedlog_connections_opened_total", "client connections accepted", m.connsOpened.Load())
	e.counter("seedlog_connections_refused_total", "client connections closed on accept (max.connections)", m.connsRefused.Load())
	e.gauge("seedlog_connections", "open client connections", float64(n.connCount.Load()))
	e.counter("seedlog_connections_idle_closed_total", "client connections closed after connections.max.idle.ms", m.connsIdleClosed.Load())
	e.counter("seedlog_request_read_timeouts_total", "client connections closed for stalling mid-request (socket.request.read.timeout.ms)", m.framesTimedOut.Load())
	e.counter("seedlog_accept_errors_total", "failed accepts (descriptors or buffers exhausted); the listener retries", m.acceptErrors.Load())
	used, evicted := n.budget.usage()
	e.gauge("seedlog_queued_request_bytes", "client request bytes held, against queued.max.request.bytes", float64(used))
	e.counter("seedlog_stalled_requests_evicted_total", "connections closed to free request memory held by a stalled request", evicted)
	e.gauge("seedlog_peer_connections", "incoming peer connections, handshakes included", float64(n.peerSlots.open()))
	e.counter("seedlog_peer_auth_failures_total", "peer handshakes and frames that failed authentication", m.peerAuthFailed.Load())
	e.counter("seedlog_peer_connections_refused_total", "peer connections refused at peer.connections.max", m.peerRefused.Load())
	e.counter("seedlog_peer_bytes_in_total", "bytes read from peers", m.peerBytesIn.Load())
	e.counter("seedlog_peer_bytes_out_total", "bytes written to peers", m.peerBytesOut.Load())
	e.counter("seedlog_peer_messages_dropped_total", "peer messages dropped (peer unreachable or queue full)", m.peerDropped.Load())
	e.header("seedlog_fsync_duration_seconds", "histogram", "duration of the fsyncs of one group commit")
	e.histogram("seedlog_fsync_duration_seconds", "", &m.fsync)
	e.counter("seedlog_fsync_requests_total", "sync ops served by group commits", m.fsyncBatchOps.Load())
	n.writeCoreMetrics(&e, n.gauges())
}

func (n *Node) writeCoreMetrics(e *expo, g coreGauges) {
	e.gauge("seedlog_up", "1 when the node's loop answered this scrape", b2f(g.ok))
	if !g.ok {
		return
	}
	e.header("seedlog_quorum_role", "gauge", "the node's role in the metadata quorum")
	e.sample("seedlog_quorum_role", `role="`+g.quorumRole+`"`, 1)
	e.gauge("seedlog_quorum_epoch", "metadata quorum epoch", float64(g.quorumEpoch))
	e.gauge("seedlog_quorum_leader", "metadata quorum leader id (-1: unknown)", float64(g.quorumLeader))
	e.gauge("seedlog_quorum_high_watermark", "metadata quorum high watermark", float64(g.quorumHW))
	e.gauge("seedlog_quorum_log_end_offset", "metadata log end offset", float64(g.quorumEnd))
	e.gauge("seedlog_lease_valid", "1 while the broker holds a lease to lead partitions", b2f(g.leaseValid))
	e.gauge("seedlog_under_replicated_partitions", "partitions led here whose ISR is smaller than their replica set", float64(g.underReplicate))
	e.gauge("seedlog_group_coordinators", "consumer group coordinators on this broker", float64(g.groups))
	led := 0
	for _, p := range g.partitions {
		if p.leader {
			led++
		}
	}
	e.gauge("seedlog_partitions_led", "partitions led by this broker", float64(led))
	e.gauge("seedlog_replicas", "partition replicas hosted by this broker", float64(len(g.partitions)))
	e.header("seedlog_partition_isr_size", "gauge", "in-sync replicas of a partition led here")
	for _, p := range g.partitions {
		if p.leader {
			e.sample("seedlog_partition_isr_size", partLabel(p), float64(p.isr))
		}
	}
	e.header("seedlog_partition_high_watermark", "gauge", "high watermark of each replica")
	for _, p := range g.partitions {
		e.sample("seedlog_partition_high_watermark", partLabel(p), float64(p.hw))
	}
	e.header("seedlog_partition_log_end_offset", "gauge", "log end offset of each replica")
	for _, p := range g.partitions {
		e.sample("seedlog_partition_log_end_offset", partLabel(p), float64(p.leo))
	}
}

// expo writes exposition lines.
type expo struct{ w io.Writer }

func (e *expo) header(name, kind, help string) {
	fmt.Fprintf(e.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

func (e *expo) sample(name, labels string, v float64) {
	if labels != "" {
		name += "{" + labels + "}"
	}
	fmt.Fprintf(e.w, "%s %s\n", name, strconv.FormatFloat(v, 'g', -1, 64))
}

func (e *expo) counter(name, help string, v int64) {
	e.header(name, "counter", help)
	e.sample(name, "", float64(v))
}

func (e *expo) gauge(name, help string, v float64) {
	e.header(name, "gauge", help)
	e.sample(name, "", v)
}

func (e *expo) histogram(name, labels string, h *histogram) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum int64
	for i, b := range bucketBounds {
		cum += h.counts[i].Load()
		e.sample(name+"_bucket", labels+sep+`le="`+strconv.FormatFloat(b, 'g', -1, 64)+`"`, float64(cum))
	}
	cum += h.counts[len(bucketBounds)].Load()
	e.sample(name+"_bucket", labels+sep+`le="+Inf"`, float64(cum))
	e.sample(name+"_sum", labels, float64(h.sumNs.Load())/1e9)
	e.sample(name+"_count", labels, float64(cum))
}

func apiLabel(key int) string {
	name := kmsg.NameForKey(int16(key))
	if name == "" {
		name = "Unknown" + strconv.Itoa(key)
	}
	return `api="` + name + `"`
}

func partLabel(p partitionGauge) string {
	return `topic="` + escapeLabel(p.topic) + `",partition="` + strconv.Itoa(int(p.partition)) + `"`
}

// escapeLabel escapes a label value. Kafka topic names are [a-zA-Z0-9._-], so this only
// guards against a future relaxation.
func escapeLabel(s string) string {
	return strconv.Quote(s)[1 : len(strconv.Quote(s))-1]
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
