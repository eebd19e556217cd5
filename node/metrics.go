package node

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bucketBounds are the upper bounds of every latency histogram, in seconds: from 50µs (a
// fetch served from memory) to 10s (a request waiting out a leader election).
var bucketBounds = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// counter is a Prometheus counter that takes integer increments.
type counter struct{ c prometheus.Counter }

func (c counter) Add(n int64) { c.c.Add(float64(n)) }

// metrics holds what connection, peer and disk goroutines count, in one registry per
// node (tests run several nodes in a process). Gauges that describe the core's state
// are read on the loop goroutine at scrape time by coreCollector; the Go runtime and
// process collectors add heap, goroutines and open descriptors.
type metrics struct {
	reg *prometheus.Registry
	// requests and latency are resolved per API key once, not per request.
	requests [kmsg.MaxKey + 1]prometheus.Counter
	latency  [kmsg.MaxKey + 1]prometheus.Observer

	bytesIn, bytesOut, badFrames                  counter
	connsOpened, connsRefused                     counter
	connsIdleClosed, framesTimedOut, acceptErrors counter
	peerBytesIn, peerBytesOut, peerDropped        counter
	peerAuthFailed, peerRefused                   counter
	tlsHandshakeFailed                            counter
	tlsCertReloads, tlsCertReloadFailed           counter
	fsync                                         prometheus.Histogram
	fsyncBatchOps                                 counter
	cleanerBytes, cleanerSteps                    counter
	spanBytesSent, spanBytesCopied, spansLost     counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "seedlog_requests_total", Help: "client requests by API"}, []string{"api"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "seedlog_request_duration_seconds",
		Help: "client request latency, frame read to response written, by API", Buckets: bucketBounds}, []string{"api"})
	m.reg.MustRegister(requests, latency)
	for k := range m.requests {
		if _, _, ok := kafka.Served.Range(int16(k)); ok {
			m.requests[k] = requests.WithLabelValues(apiName(k))
			m.latency[k] = latency.WithLabelValues(apiName(k))
		}
	}
	c := func(name, help string) counter {
		cc := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(cc)
		return counter{cc}
	}
	m.bytesIn = c("seedlog_client_bytes_in_total", "bytes read from clients")
	m.bytesOut = c("seedlog_client_bytes_out_total", "bytes written to clients")
	m.spanBytesSent = c("seedlog_fetch_bytes_sendfile_total", "fetched record bytes sent from segment files with sendfile, never copied through the process")
	m.spanBytesCopied = c("seedlog_fetch_bytes_copied_total", "fetched record bytes written through the process's memory (TLS connections, batches rewritten on read)")
	m.spansLost = c("seedlog_fetch_spans_lost_total", "responses cut short because a segment file was cut or closed between the read and the send (the client reconnects)")
	m.badFrames = c("seedlog_bad_frames_total", "client frames that closed their connection (oversized, truncated, malformed)")
	m.connsOpened = c("seedlog_connections_opened_total", "client connections accepted")
	m.connsRefused = c("seedlog_connections_refused_total", "client connections closed on accept (max.connections)")
	m.connsIdleClosed = c("seedlog_connections_idle_closed_total", "client connections closed after connections.max.idle.ms")
	m.framesTimedOut = c("seedlog_request_read_timeouts_total", "client connections closed for stalling mid-request (socket.request.read.timeout.ms)")
	m.acceptErrors = c("seedlog_accept_errors_total", "failed accepts (descriptors or buffers exhausted); the listener retries")
	m.peerBytesIn = c("seedlog_peer_bytes_in_total", "bytes read from peers")
	m.peerBytesOut = c("seedlog_peer_bytes_out_total", "bytes written to peers")
	m.peerDropped = c("seedlog_peer_messages_dropped_total", "peer messages dropped (peer unreachable or queue full)")
	m.peerAuthFailed = c("seedlog_peer_auth_failures_total", "peer handshakes and frames that failed authentication")
	m.peerRefused = c("seedlog_peer_connections_refused_total", "peer connections refused at peer.connections.max")
	m.tlsHandshakeFailed = c("seedlog_tls_handshake_failures_total", "client TLS handshakes that failed or did not end within tls.handshake.timeout.ms")
	m.tlsCertReloads = c("seedlog_tls_certificate_reloads_total", "times the client TLS certificate was reloaded after its files changed")
	m.tlsCertReloadFailed = c("seedlog_tls_certificate_reload_failures_total", "changed client TLS certificate files that did not load (the previous certificate stays)")
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "seedlog_fsync_duration_seconds",
		Help: "duration of the fsyncs of one group commit", Buckets: bucketBounds})
	m.reg.MustRegister(m.fsync)
	m.fsyncBatchOps = c("seedlog_fsync_requests_total", "sync ops served by group commits")
	m.cleanerBytes = c("seedlog_log_cleaner_io_bytes_total", "bytes the log cleaner read and wrote (log.cleaner.io.max.bytes.per.second paces them)")
	m.cleanerSteps = c("seedlog_log_cleaner_steps_total", "steps of cleaning passes (each at most about log.cleaner.io.buffer.size)")
	return m
}

func (m *metrics) requestDone(key int16, d time.Duration) {
	if key >= 0 && int(key) < len(m.requests) && m.requests[key] != nil {
		m.requests[key].Inc()
		m.latency[key].Observe(d.Seconds())
	}
}

func (m *metrics) requestSilent(key int16) {
	if key >= 0 && int(key) < len(m.requests) && m.requests[key] != nil {
		m.requests[key].Inc()
	}
}

func apiName(key int) string {
	if name := kmsg.NameForKey(int16(key)); name != "" {
		return name
	}
	return "Unknown" + strconv.Itoa(key)
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
	fetchSessions  kafka.FetchSessionStats
}

type partitionGauge struct {
	topic         string
	partition     int32
	leader        bool
	isr, replicas int
	hw, leo       int64
	// fences counts the replica's fenced ranges and offsets by kind (damaged, lost).
	fenceRanges, fenceOffsets map[disk.FenceKind]int64
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
			pg := partitionGauge{topic: r.Topic, partition: r.Partition, leader: r.Role == partition.RoleLeader && !r.Resigning,
				isr: len(r.ISR), hw: r.HighWatermark, leo: r.LogEndOffset,
				fenceRanges: map[disk.FenceKind]int64{}, fenceOffsets: map[disk.FenceKind]int64{}}
			for _, f := range r.Fences {
				pg.fenceRanges[f.Kind]++
				pg.fenceOffsets[f.Kind] += f.To - f.From
			}
			if ps, ok := im.Partition(r.TopicID, r.Partition); ok {
				pg.replicas = len(ps.Replicas)
			}
			if pg.leader && pg.isr < pg.replicas {
				g.underReplicate++
			}
			g.partitions = append(g.partitions, pg)
		}
		g.groups = len(n.core.GroupStatus())
		g.fetchSessions = n.core.FetchSessionStats()
	}, 2*time.Second)
	return g
}

func (n *Node) metricsHandler() http.Handler {
	n.metrics.reg.MustRegister(coreCollector{n})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
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

// coreCollector reports the state the node's goroutines share and the core's, read at
// scrape time. It describes nothing up front (an unchecked collector): the partitions
// it reports come and go.
type coreCollector struct{ n *Node }

func (coreCollector) Describe(chan<- *prometheus.Desc) {}

func (c coreCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(name, help string, v float64, labels ...string) {
		var names, values []string
		for i := 0; i+1 < len(labels); i += 2 {
			names, values = append(names, labels[i]), append(values, labels[i+1])
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, names, nil), prometheus.GaugeValue, v, values...)
	}
	gauge("seedlog_connections", "open client connections", float64(n.connCount.Load()))
	used, evicted := n.budget.usage()
	gauge("seedlog_queued_request_bytes", "client request bytes held, against queued.max.request.bytes", float64(used))
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("seedlog_stalled_requests_evicted_total",
		"connections closed to free request memory held by a stalled request", nil, nil), prometheus.CounterValue, float64(evicted))
	gauge("seedlog_peer_connections", "incoming peer connections, handshakes included", float64(n.peerSlots.open()))
	if n.spans != nil {
		gauge("seedlog_fetch_span_files", "segment files held open for fetched spans until they are sent, against fetch.span.files.max", float64(n.spans.held()))
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("seedlog_fetch_span_files_refused_total",
			"fetched partitions whose records were copied rather than sent with sendfile: fetch.span.files.max files were held, none idle", nil, nil), prometheus.CounterValue, float64(n.spans.refused.Load()))
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("seedlog_fetch_span_files_evicted_total",
			"idle span files closed to make room under fetch.span.files.max", nil, nil), prometheus.CounterValue, float64(n.spans.evicted.Load()))
	}
	g := n.gauges()
	gauge("seedlog_up", "1 when the node's loop answered this scrape", b2f(g.ok))
	if !g.ok {
		return
	}
	gauge("seedlog_quorum_role", "the node's role in the metadata quorum", 1, "role", g.quorumRole)
	gauge("seedlog_quorum_epoch", "metadata quorum epoch", float64(g.quorumEpoch))
	gauge("seedlog_quorum_leader", "metadata quorum leader id (-1: unknown)", float64(g.quorumLeader))
	gauge("seedlog_quorum_high_watermark", "metadata quorum high watermark", float64(g.quorumHW))
	gauge("seedlog_quorum_log_end_offset", "metadata log end offset", float64(g.quorumEnd))
	gauge("seedlog_lease_valid", "1 while the broker holds a lease to lead partitions", b2f(g.leaseValid))
	gauge("seedlog_under_replicated_partitions", "partitions led here whose ISR is smaller than their replica set", float64(g.underReplicate))
	gauge("seedlog_group_coordinators", "consumer group coordinators on this broker", float64(g.groups))
	fs := g.fetchSessions
	gauge("seedlog_fetch_sessions", "consumer fetch sessions (KIP-227) in the cache, against max.incremental.fetch.session.cache.slots", float64(fs.Sessions))
	gauge("seedlog_fetch_session_partitions", "partitions held by the fetch sessions in the cache", float64(fs.Partitions))
	count := func(name, help string, v int64) {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, float64(v))
	}
	count("seedlog_fetch_sessions_created_total", "fetch sessions created by full fetches", fs.Created)
	count("seedlog_fetch_session_incremental_total", "incremental fetches answered within a fetch session", fs.Incremental)
	count("seedlog_fetch_sessions_evicted_total", "fetch sessions evicted to make room for a new one", fs.Evicted)
	count("seedlog_fetch_sessions_no_room_total", "full fetches answered without a session for want of room", fs.NoRoom)
	led := 0
	for _, p := range g.partitions {
		if p.leader {
			led++
		}
	}
	gauge("seedlog_partitions_led", "partitions led by this broker", float64(led))
	gauge("seedlog_replicas", "partition replicas hosted by this broker", float64(len(g.partitions)))
	for _, p := range g.partitions {
		part := strconv.Itoa(int(p.partition))
		if p.leader {
			gauge("seedlog_partition_isr_size", "in-sync replicas of a partition led here", float64(p.isr), "topic", p.topic, "partition", part)
		}
		gauge("seedlog_partition_high_watermark", "high watermark of each replica", float64(p.hw), "topic", p.topic, "partition", part)
		gauge("seedlog_partition_log_end_offset", "log end offset of each replica", float64(p.leo), "topic", p.topic, "partition", part)
		for _, kind := range []disk.FenceKind{disk.FenceDamaged, disk.FenceLost} {
			gauge("seedlog_partition_fenced_ranges", "offset ranges of a replica with no readable data: damaged (failed their checksums on this disk, fetched back once out of the ISR) or lost (no intact in-sync copy was left)",
				float64(p.fenceRanges[kind]), "topic", p.topic, "partition", part, "kind", kind.String())
			gauge("seedlog_partition_fenced_offsets", "offsets in a replica's fenced ranges, by kind",
				float64(p.fenceOffsets[kind]), "topic", p.topic, "partition", part, "kind", kind.String())
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
