package node

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sampleLine is one exposition sample: name{labels} value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// scrape fetches /metrics and returns every sample by its name with labels.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	out := map[string]float64{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			typed[strings.Fields(f)[0]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not an exposition line: %q", line)
		}
		base := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(m[1], "")
		if !typed[m[1]] && !typed[base] {
			t.Errorf("sample %s before its TYPE line", m[1])
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

func TestMetricsExposition(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("metrics.listener", "127.0.0.1:0"))
	})
	cl := tc.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	tc.createTopic(cl, "m", 1, 1)
	produceN(t, cl, "m", 0, "v", 50)
	readAll(t, cl, "m", 0, 50)

	var s map[string]float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		s = scrape(t, tc.nodes[0].MetricsAddr())
		if s[`seedlog_partition_high_watermark{partition="0",topic="m"}`] == 50 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for name, check := range map[string]func(float64) bool{
		`seedlog_up`:                            func(v float64) bool { return v == 1 },
		`seedlog_requests_total{api="Produce"}`: func(v float64) bool { return v >= 1 },
		`seedlog_request_duration_seconds_count{api="Produce"}`:                   func(v float64) bool { return v >= 1 },
		`seedlog_request_duration_seconds_bucket{api="Fetch",le="+Inf"}`:          func(v float64) bool { return v >= 1 },
		`seedlog_client_bytes_in_total`:                                           func(v float64) bool { return v > 50*3 },
		`seedlog_client_bytes_out_total`:                                          func(v float64) bool { return v > 50*3 },
		`seedlog_fsync_duration_seconds_count`:                                    func(v float64) bool { return v >= 1 },
		`seedlog_quorum_role{role="leader"}`:                                      func(v float64) bool { return v == 1 },
		`seedlog_quorum_leader`:                                                   func(v float64) bool { return v == 1 },
		`seedlog_quorum_high_watermark`:                                           func(v float64) bool { return v > 0 },
		`seedlog_lease_valid`:                                                     func(v float64) bool { return v == 1 },
		`seedlog_partitions_led`:                                                  func(v float64) bool { return v >= 1 },
		`seedlog_under_replicated_partitions`:                                     func(v float64) bool { return v == 0 },
		`seedlog_partition_isr_size{partition="0",topic="m"}`:                     func(v float64) bool { return v == 1 },
		`seedlog_partition_high_watermark{partition="0",topic="m"}`:               func(v float64) bool { return v == 50 },
		`seedlog_partition_log_end_offset{partition="0",topic="m"}`:               func(v float64) bool { return v == 50 },
		`seedlog_partition_fenced_ranges{kind="damaged",partition="0",topic="m"}`: func(v float64) bool { return v == 0 },
		`seedlog_partition_fenced_offsets{kind="lost",partition="0",topic="m"}`:   func(v float64) bool { return v == 0 },
		`go_memstats_heap_alloc_bytes`:                                            func(v float64) bool { return v > 0 },
		`process_open_fds`:                                                        func(v float64) bool { return v > 0 },
		`seedlog_peer_auth_failures_total`:                                        func(v float64) bool { return v == 0 },
	} {
		v, ok := s[name]
		if !ok || !check(v) {
			t.Errorf("%s = %v (present %v)", name, v, ok)
		}
	}
	// Profiles are off unless metrics.pprof.enable is set.
	resp, err := http.Get("http://" + tc.nodes[0].MetricsAddr() + "/debug/pprof/")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ answered %d with profiles off", resp.StatusCode)
	}
	// Buckets are cumulative.
	prev := -1.0
	for _, b := range bucketBounds {
		v := s[fmt.Sprintf(`seedlog_request_duration_seconds_bucket{api="Produce",le="%s"}`, strconv.FormatFloat(b, 'g', -1, 64))]
		if v < prev {
			t.Errorf("bucket le=%v holds %v, below the previous %v", b, v, prev)
		}
		prev = v
	}
}

// TestUnderReplicatedPartitions checks the gauge on a leader whose follower stopped.
func TestUnderReplicatedPartitions(t *testing.T) {
	tc := startCluster(t, 3, 3, func(_ int, c *Config) {
		must(t, c.Set("metrics.listener", "127.0.0.1:0"))
		must(t, c.Set("replica.lag.time.max.ms", "1000"))
	})
	cl := tc.client(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	tc.createTopic(cl, "u", 1, 3)
	produceN(t, cl, "u", 0, "v", 10)
	leader := -1
	for i, n := range tc.nodes {
		if scrape(t, n.MetricsAddr())["seedlog_partitions_led"] > 0 && leader < 0 {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no node leads the partition")
	}
	tc.kill((leader + 1) % 3)
	deadline := time.Now().Add(20 * time.Second)
	for {
		produceN(t, cl, "u", 0, "w", 1)
		s := scrape(t, tc.nodes[leader].MetricsAddr())
		if s["seedlog_under_replicated_partitions"] == 1 && s[`seedlog_partition_isr_size{partition="0",topic="u"}`] == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after killing a follower: under-replicated %v, ISR size %v", s["seedlog_under_replicated_partitions"], s[`seedlog_partition_isr_size{partition="0",topic="u"}`])
		}
		time.Sleep(200 * time.Millisecond)
	}
}
