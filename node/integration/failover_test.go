package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Metadata request to a broker whose active controller was just killed is answered
// once a new controller is elected, not held for request.timeout.ms (30 s here, Kafka's
// default) and answered REQUEST_TIMED_OUT: the broker's read barrier asks the new
// controller as soon as it learns of it.
func TestMetadataOutlivesTheController(t *testing.T) {
	c := newClusterWith(t, 3, clusterOpts{settings: map[string]string{"request.timeout.ms": "30000"}})
	cl := c.client()
	c.waitBrokers(cl, 3)
	c.createTopic(cl, "m", 1, 3)
	for round := range 2 {
		ctrl := c.activeController()
		survivor := (ctrl + 1) % len(c.procs)
		// A client of the survivor only, its connection open before the kill, that
		// waits for the broker's answer rather than giving up and asking again.
		sc, err := kgo.NewClient(kgo.SeedBrokers(c.procs[survivor].clientAddr), kgo.RequestTimeoutOverhead(45*time.Second), kgo.RequestRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		ask := func() (*kmsg.MetadataResponse, error) {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("m")}}
			resp, err := sc.Broker(survivor+1).Request(context.Background(), req)
			if err != nil {
				return nil, err
			}
			return resp.(*kmsg.MetadataResponse), nil
		}
		// The survivor may have restarted in the round before: ask until it answers.
		c.eventually(30*time.Second, fmt.Sprintf("broker %d answering", survivor+1), func() bool {
			_, err := ask()
			return err == nil
		})
		c.kill(ctrl)
		start := time.Now()
		resp, err := ask()
		took := time.Since(start)
		sc.Close()
		if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode == kerr.RequestTimedOut.Code {
			t.Fatalf("round %d: Metadata to broker %d after killing controller %d: %v %+v after %v", round, survivor+1, ctrl+1, err, resp, took)
		}
		t.Logf("round %d: Metadata answered %v after the controller (broker %d) was killed", round, took.Round(time.Millisecond), ctrl+1)
		if took >= 30*time.Second {
			t.Fatalf("round %d: held for the whole request timeout (%v)", round, took)
		}
		c.start(ctrl)
		c.waitBrokers(cl, 3)
	}
}

// activeController returns the index of the broker whose controller became active last,
// from the brokers' logs.
func (c *cluster) activeController() int {
	c.t.Helper()
	best, bestAt := -1, ""
	c.eventually(30*time.Second, "an active controller in the logs", func() bool {
		for i, p := range c.procs {
			b, err := os.ReadFile(filepath.Join(p.dir, "broker.log"))
			if err != nil || !c.running(i) {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "msg=controller-active") {
					if at, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " "); at > bestAt {
						best, bestAt = i, at
					}
				}
			}
		}
		return best >= 0
	})
	return best
}

// Brokers stopped one by one with SIGTERM each end their controlled shutdown promptly,
// the last one too: its fellow voters are gone, so no controller can move its
// leaderships, and it stops a few election timeouts after the quorum lost its leader
// instead of waiting out controlled.shutdown.timeout.ms (30 s here, Kafka's default).
func TestLastBrokerStopsPromptly(t *testing.T) {
	c := newClusterWith(t, 3, clusterOpts{settings: map[string]string{"controlled.shutdown.timeout.ms": "30000"}})
	cl := c.client()
	c.waitBrokers(cl, 3)
	c.createTopic(cl, "s", 3, 3)
	cl.Close()
	for i := range c.procs {
		start := time.Now()
		c.stop(i)
		t.Logf("broker %d stopped %v after SIGTERM", i+1, time.Since(start).Round(time.Millisecond))
	}
}

// A broker killed with SIGKILL and started again at once registers its new incarnation
// as soon as the old one's leases have ended, before its session (1.5 s by default) runs
// out, and is back in the metadata.
func TestRestartedBrokerRejoins(t *testing.T) {
	c := newCluster(t, 3)
	cl := c.client()
	c.waitBrokers(cl, 3)
	for round := range 3 {
		i := round % len(c.procs)
		c.kill(i)
		start := time.Now()
		c.start(i)
		c.eventually(30*time.Second, fmt.Sprintf("broker %d back in the metadata", i+1), func() bool {
			b, err := os.ReadFile(filepath.Join(c.procs[i].dir, "broker.log"))
			if err != nil {
				return false
			}
			log := string(b)
			last := log[strings.LastIndex(log, "==== start"):]
			return strings.Contains(last, "msg=broker-fenced") && strings.Contains(last, "fenced=false")
		})
		t.Logf("round %d: broker %d unfenced again %v after its restart began", round, i+1, time.Since(start).Round(time.Millisecond))
	}
}
