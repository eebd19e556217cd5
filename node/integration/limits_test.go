package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// scrape reads a broker's /metrics into name{labels} -> value; nil when it cannot.
func scrape(addr string) map[string]float64 {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// partialFrames keeps up to n connections to addr open, each having sent the size
// prefix of a frame of declared bytes and chunk bytes of its body, and reopens the ones
// the broker closes, until stopped.
type partialFrames struct {
	opened, closedByBroker atomic.Int64
	stop                   chan struct{}
	wg                     sync.WaitGroup
}

func startPartialFrames(t *testing.T, addr string, n, declared, chunk int) *partialFrames {
	pf := &partialFrames{stop: make(chan struct{})}
	body := append(binary.BigEndian.AppendUint32(nil, uint32(declared)), make([]byte, chunk)...)
	const workers = 50
	for w := range workers {
		pf.wg.Add(1)
		go func() {
			defer pf.wg.Done()
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for {
				select {
				case <-pf.stop:
					return
				default:
				}
				// Keep this worker's share open; replace what the broker closed.
				kept := conns[:0]
				for _, c := range conns {
					c.SetReadDeadline(time.Now().Add(time.Millisecond))
					if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
						pf.closedByBroker.Add(1)
						c.Close()
						continue
					}
					kept = append(kept, c)
				}
				conns = kept
				for len(conns) < n/workers+boolInt(w < n%workers) {
					c, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						break
					}
					c.SetWriteDeadline(time.Now().Add(2 * time.Second))
					c.Write(body) // a write the broker stopped reading is fine
					conns = append(conns, c)
					pf.opened.Add(1)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	return pf
}

func (pf *partialFrames) end() {
	close(pf.stop)
	pf.wg.Wait()
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestPartialFramesStayWithinTheRequestBudget opens 5,000 connections that each
// declare a 100 MiB request, send 64 KiB of it and stall, and reopens those the broker
// closes, against a broker whose queued.max.request.bytes is 256 MiB and whose heap
// limit (memory.limit.bytes) is that plus a fixed margin. The request bytes held must
// stay within the budget and the heap within the limit, and a franz-go producer must
// keep getting acknowledgements throughout.
func TestPartialFramesStayWithinTheRequestBudget(t *testing.T) {
	const (
		budget   = 256 << 20
		conns    = 5000
		declared = 100 << 20
		chunk    = 64 << 10
		// margin covers what is not request memory: the runtime, the broker's state,
		// and per connection its goroutines' bookkeeping and a 4 KiB read buffer.
		margin = 192 << 20
	)
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"queued.max.request.bytes":   strconv.Itoa(budget),
		"memory.limit.bytes":         strconv.Itoa(budget + margin),
		"max.connections":            "6000",
		"default.replication.factor": "1", "min.insync.replicas": "1", "offsets.topic.num.partitions": "1",
	}})
	p := c.procs[0]
	admin := c.client()
	c.waitBrokers(admin, 1)
	c.createTopic(admin, "steady", 1, 1)
	pr := startProducer(t, c, "steady", 1)
	pr.waitAcked(t, 30*time.Second, 500, 0)

	attack := startPartialFrames(t, p.clientAddr, conns, declared, chunk)
	var heapMax, heldMax, rssMax float64
	var gapMax time.Duration
	lastTotal, lastAck := 0, time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := scrape(p.metricsAddr); m != nil {
			heapMax = max(heapMax, m["go_memstats_heap_inuse_bytes"])
			heldMax = max(heldMax, m["seedlog_queued_request_bytes"])
			rssMax = max(rssMax, m["process_resident_memory_bytes"])
		}
		if total, _ := pr.acks.counts(); total > lastTotal {
			lastTotal, lastAck = total, time.Now()
		}
		gapMax = max(gapMax, time.Since(lastAck))
		if gapMax > 5*time.Second {
			t.Fatalf("the producer got no acknowledgement for %v under attack (%d so far)", gapMax, lastTotal)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := scrape(p.metricsAddr)
	attack.end()
	pr.finish(t)
	t.Logf("attack: %d connections opened, %d closed by the broker; broker: %v open connections at the end, %v stalled requests evicted; request bytes held at most %.0f MiB of %d MiB; heap in use at most %.0f MiB, resident at most %.0f MiB; producer: %d acknowledged, %d failed",
		attack.opened.Load(), attack.closedByBroker.Load(), m["seedlog_connections"], m["seedlog_stalled_requests_evicted_total"],
		heldMax/(1<<20), budget>>20, heapMax/(1<<20), rssMax/(1<<20), pr.acks.total, pr.acks.failed)
	t.Logf("longest time without an acknowledgement under attack: %v", gapMax)
	if attack.opened.Load() < conns {
		t.Errorf("only %d attacking connections opened", attack.opened.Load())
	}
	if heldMax > budget {
		t.Errorf("request bytes held peaked at %.0f, above the budget %d", heldMax, budget)
	}
	if heapMax > budget+margin {
		t.Errorf("heap in use peaked at %.0f MiB, above the budget plus margin (%d MiB)", heapMax/(1<<20), (budget+margin)>>20)
	}
	if pr.acks.failed > 0 {
		t.Errorf("%d produces failed under attack: %v", pr.acks.failed, pr.acks.firstErr)
	}
	checkPartition(t, 0, readPartition(t, c.seeds(), "steady", 0), pr.acks.acked[0])
}

// TestDescriptorExhaustionRecovers starts a broker with 1,024 descriptors, enough for
// its max.connections by the start-up check but not once 400 partitions hold their
// segment files (about one each, in the file cache), and opens connections until
// accept fails with EMFILE. While the
// attacker holds them the broker keeps serving the client it has; once the attacker
// leaves, new clients connect again.
func TestDescriptorExhaustionRecovers(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) is needed to start a broker with few descriptors: %v", err)
	}
	c := newClusterWith(t, 1, clusterOpts{
		wrap: []string{prlimit, "--nofile=1024:1024"},
		settings: map[string]string{
			"max.connections":            "700",
			"peer.connections.max":       "16",
			"default.replication.factor": "1", "min.insync.replicas": "1", "offsets.topic.num.partitions": "1",
		},
	})
	p := c.procs[0]
	admin := c.client()
	c.waitBrokers(admin, 1)
	c.createTopic(admin, "many", 400, 1)
	pr := startProducer(t, c, "many", 400)
	pr.waitAcked(t, 30*time.Second, 1000, 0)
	// The broker creates the logs a few at a time after the metadata names them: every
	// partition holds its files once each took a write.
	c.eventually(30*time.Second, "a write acknowledged on every partition", func() bool {
		pr.acks.mu.Lock()
		defer pr.acks.mu.Unlock()
		return len(pr.acks.acked) == 400
	})
	held := openFiles(p.cmd.Process.Pid)

	var attack []net.Conn
	defer func() {
		for _, a := range attack {
			a.Close()
		}
	}()
	for len(attack) < 700 {
		a, err := net.DialTimeout("tcp", p.clientAddr, 2*time.Second)
		if err != nil {
			break
		}
		attack = append(attack, a)
	}
	t.Logf("descriptors open: %d before the attack, %d after it", held, openFiles(p.cmd.Process.Pid))
	c.eventually(30*time.Second, "accept to fail for want of descriptors", func() bool {
		if m := scrape(p.metricsAddr); m != nil {
			return m["seedlog_accept_errors_total"] > 0
		}
		return true // the metrics listener cannot accept either: descriptors are out
	})
	total, _ := pr.acks.counts()
	pr.waitAcked(t, 30*time.Second, total+500, 0)
	t.Logf("descriptors exhausted with %d attacking connections; the producer's connection kept working", len(attack))

	for _, a := range attack {
		a.Close()
	}
	attack = nil
	c.eventually(30*time.Second, "a new client to be served", func() bool {
		fresh := c.client()
		defer fresh.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return fresh.Ping(ctx) == nil
	})
	m := scrape(p.metricsAddr)
	pr.finish(t)
	t.Logf("after the attacker left: new clients served; %v failed accepts counted", m["seedlog_accept_errors_total"])
	if !c.running(0) {
		t.Fatal("the broker died")
	}
	if b, err := os.ReadFile(p.dir + "/broker.log"); err == nil && strings.Count(string(b), "accepting connections failed") > 20 {
		t.Errorf("%d log lines about failed accepts: they should be rate-limited", strings.Count(string(b), "accepting connections failed"))
	}
}

// cpuTime is the CPU a process used so far (user and system), from /proc.
func cpuTime(t testing.TB, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks (USER_HZ)
}

// TestTagBombsCostLittleCPU sends 500 flexible Produce requests whose tagged-field
// count announces 2^32-1 tags (once 3.7 to 63 CPU-seconds each) to a real broker's
// client listener, and 500 controller calls carrying one to its peer listener. Each is
// refused at once; the CPU the broker spent beyond an idle window of the same length is
// reported per request.
func TestTagBombsCostLittleCPU(t *testing.T) {
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor": "1", "min.insync.replicas": "1", "offsets.topic.num.partitions": "1",
	}})
	p := c.procs[0]
	c.waitBrokers(c.client(), 1)
	pid := p.cmd.Process.Pid
	produceBomb, _ := hex.DecodeString(strings.ReplaceAll("0000 0009 00000029 0004 73655664 00 00 ffff0000 03e8 02 02 74 02 000000ff 02 41 ffffffff 0f 00", " ", ""))
	callBomb := frameOf(append(callHeader(kmsg.NewPtrBrokerHeartbeatRequest()), 0x0a, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0))
	send := func(addr string, b []byte) {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		nc.Write(b)
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("a bomb to %s: the connection stayed open: %v", addr, err)
		}
	}
	start, cpu0 := time.Now(), cpuTime(t, pid)
	for range 500 {
		send(p.clientAddr, frameOf(produceBomb))
		send(p.peerAddr, append(binary.BigEndian.AppendUint32(nil, 0x53444C50), callBomb...))
	}
	spent, took := cpuTime(t, pid)-cpu0, time.Since(start)
	cpu1 := cpuTime(t, pid)
	time.Sleep(took)
	idle := cpuTime(t, pid) - cpu1
	perBomb := (spent - idle) / 1000
	t.Logf("1000 tag bombs in %v: the broker spent %v of CPU, %v in an idle window as long: %v per bomb (connection set-up included)", took, spent, idle, max(perBomb, 0))
	if perBomb > 20*time.Millisecond {
		t.Errorf("%v of CPU per tag bomb", perBomb)
	}
}
