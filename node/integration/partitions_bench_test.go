package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkManyPartitions measures a cluster of 3 brokers holding N partitions with 3
// replicas each (every broker a replica of all of them): how long creating them takes
// until each has a leader and a full ISR in the metadata and took an acks=all record
// (its replicas exist on every broker), the brokers' resident memory and CPU while
// idle, and how long after a kill -9 of all three and a restart every partition has a
// leader again and took an acks=all record. N is 1,000 and 4,000 (the default
// max.broker.partitions), in the same run:
//
//	go test ./node/integration -run '^$' -bench ManyPartitions -benchtime 1x -timeout 60m
//
// SEEDLOG_BENCH_PARTITIONS=1000,10000 picks other sizes; past 4,000 the brokers get
// max.broker.partitions=N. A broker keeps log.open.files.max (2,048) segment files open
// besides those written since their last fsync: it warns below an open-file limit of
// N + 6,656, and an idle one holds far fewer (the bench logs how many).
// SEEDLOG_BENCH_PPROF=DIR saves broker 1's CPU profiles of the idle window and of the
// first 20 s after the restart there;
// SEEDLOG_BENCH_SETTINGS=key=value,... sets more broker settings (timings to compare).
func BenchmarkManyPartitions(b *testing.B) {
	sizes := []int{1000, 4000}
	if s := os.Getenv("SEEDLOG_BENCH_PARTITIONS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				b.Fatalf("SEEDLOG_BENCH_PARTITIONS=%q: want sizes like 1000,10000", s)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				benchPartitions(b, n)
			}
		})
	}
}

// partitionsPerTopic splits the partitions over topics of this size, one CreateTopics
// each: a controller proposes at most so many records per request.
const partitionsPerTopic = 500

func benchPartitions(b *testing.B, n int) {
	// The brokers' defaults, not the tests' shorter follower long-poll and ISR lag
	// bound (which bounds an idle follower's long-poll too): followers' idle fetches are
	// most of an idle broker's work.
	settings := map[string]string{"request.timeout.ms": "30000", "replica.fetch.wait.max.ms": "500",
		"replica.lag.time.max.ms": "30000"}
	if n > 4000 {
		settings["max.broker.partitions"] = strconv.Itoa(n)
	}
	if s := os.Getenv("SEEDLOG_BENCH_SETTINGS"); s != "" {
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				b.Fatalf("SEEDLOG_BENCH_SETTINGS=%q: want key=value,...", s)
			}
			settings[k] = v
		}
	}
	profileDir := os.Getenv("SEEDLOG_BENCH_PPROF")
	if profileDir != "" {
		settings["metrics.pprof.enable"] = "true"
	}
	c := newClusterWith(b, 3, clusterOpts{settings: settings})
	admin := c.client(kgo.RequestTimeoutOverhead(60 * time.Second))
	c.waitBrokers(admin, 3)
	topics := (n + partitionsPerTopic - 1) / partitionsPerTopic
	epoch0 := quorumEpoch(c)
	start := time.Now()
	for i := range topics {
		c.createTopicAsync(admin, fmt.Sprintf("p%05d", i), min(partitionsPerTopic, n-i*partitionsPerTopic), 3)
	}
	c.eventually(10*time.Minute, fmt.Sprintf("%d partitions led with full ISRs", n), func() bool { return ledPartitions(admin, 3) >= n })
	led := time.Since(start)
	// The metadata names leaders and ISRs at once; the brokers create the logs after,
	// a few at a time. A partition is created once its replicas take an acks=all write.
	produceToEach(b, c, n)
	created := time.Since(start)
	epochCreated := quorumEpoch(c)
	time.Sleep(10 * time.Second) // let the ISRs and the offsets topic settle
	const idle = 20 * time.Second
	var cpu0 []time.Duration
	var peerOut0 []float64
	for _, p := range c.procs {
		cpu0 = append(cpu0, cpuTime(b, p.cmd.Process.Pid))
		peerOut0 = append(peerOut0, scrape(p.metricsAddr)["seedlog_peer_bytes_out_total"])
	}
	if profileDir != "" {
		profileIdle(b, c.procs[0].metricsAddr, idle, filepath.Join(profileDir, fmt.Sprintf("idle-%d.pprof", n)))
	} else {
		time.Sleep(idle)
	}
	cpuMax, rssMax := 0.0, 0.0
	for i, p := range c.procs {
		cpu := float64(cpuTime(b, p.cmd.Process.Pid)-cpu0[i]) / float64(idle) * 100
		rss := rssMiB(b, p.cmd.Process.Pid)
		peerOut := (scrape(p.metricsAddr)["seedlog_peer_bytes_out_total"] - peerOut0[i]) / idle.Seconds()
		b.Logf("broker %d: idle CPU %.1f%% of a core, %.1f KB/s to peers, RSS %.0f MiB, %d open files", p.id, cpu, peerOut/1000, rss, openFiles(p.cmd.Process.Pid))
		cpuMax, rssMax = max(cpuMax, cpu), max(rssMax, rss)
	}
	for i := range c.procs {
		c.kill(i)
	}
	start = time.Now()
	for i := range c.procs {
		c.start(i)
	}
	var profiled sync.WaitGroup
	defer profiled.Wait() // before the bench ends, however it ends: the profiler logs
	if profileDir != "" {
		// The restart's first seconds, once broker 1 answers on its metrics listener.
		profiled.Add(1)
		go func() {
			defer profiled.Done()
			path := filepath.Join(profileDir, fmt.Sprintf("restart-%d.pprof", n))
			for time.Since(start) < time.Minute {
				if err := saveProfile(c.procs[0].metricsAddr, 20*time.Second, path); err == nil {
					b.Logf("restart CPU profile of broker 1: %s", path)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			b.Logf("no restart profile: broker 1's metrics listener did not answer")
		}()
	}
	produceToEach(b, c, n)
	restarted := time.Since(start)
	b.Logf("%d partitions: led with full ISRs in the metadata after %v, created (an acks=all write taken) in %v, led again %v after a restart of every broker; metadata quorum epoch %d before the creation, %d after it, %d after the restart",
		n, led.Round(time.Millisecond), created.Round(time.Millisecond), restarted.Round(time.Millisecond), epoch0, epochCreated, quorumEpoch(c))
	b.ReportMetric(created.Seconds(), "create-s")
	b.ReportMetric(restarted.Seconds(), "restart-s")
	b.ReportMetric(cpuMax, "idle-cpu-%")
	b.ReportMetric(rssMax, "rss-MiB")
}

// produceToEach writes one acks=all record to each of the n partitions of the bench's
// topics and waits until every one is acknowledged.
func produceToEach(b *testing.B, c *cluster, n int) {
	pr := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.RecordDeliveryTimeout(10*time.Minute))
	for i := range n {
		r := &kgo.Record{Topic: fmt.Sprintf("p%05d", i/partitionsPerTopic), Partition: int32(i % partitionsPerTopic), Value: []byte("v")}
		pr.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			if err != nil {
				b.Errorf("produce to %s/%d: %v", r.Topic, r.Partition, err)
			}
		})
	}
	if err := pr.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// ledPartitions counts the partitions of the bench's topics that have a leader and at
// least isr replicas in their ISR, in one broker's metadata (0 on error).
func ledPartitions(cl *kgo.Client, isr int) int {
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), cl)
	if err != nil {
		return 0
	}
	n := 0
	for _, t := range resp.Topics {
		if t.Topic == nil || !strings.HasPrefix(*t.Topic, "p") || t.ErrorCode != 0 {
			continue
		}
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Leader >= 0 && len(p.ISR) >= isr {
				n++
			}
		}
	}
	return n
}

// quorumEpoch is the highest metadata quorum epoch the brokers' metrics show: each
// election raises it.
func quorumEpoch(c *cluster) int {
	epoch := -1
	for _, p := range c.procs {
		if m := scrape(p.metricsAddr); m != nil {
			epoch = max(epoch, int(m["seedlog_quorum_epoch"]))
		}
	}
	return epoch
}

// profileIdle saves a broker's CPU profile over the next d to path.
func profileIdle(b *testing.B, metricsAddr string, d time.Duration, path string) {
	if err := saveProfile(metricsAddr, d, path); err != nil {
		b.Fatalf("profile: %v", err)
	}
	b.Logf("idle CPU profile of broker 1: %s", path)
}

// saveProfile saves a broker's CPU profile over the next d to path.
func saveProfile(metricsAddr string, d time.Duration, path string) error {
	cl := http.Client{Timeout: d + 30*time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", metricsAddr, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// openFiles counts a process's descriptors (-1 when /proc cannot say).
func openFiles(pid int) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(fds)
}

// rssMiB is a process's resident memory.
func rssMiB(t testing.TB, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
