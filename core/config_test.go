package core

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The byte limits take Kafka's defaults when left zero, and the Fetch handler sees the
// broker's fetch.max.bytes.
func TestConfigByteLimitDefaults(t *testing.T) {
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true})
	if err != nil {
		t.Fatal(err)
	}
	c := n.Config()
	if c.MessageBytesMax != 1048588 || c.FetchBytesMax != 57671680 || c.ReplicaFetchResponseBytesMax != 10485760 {
		t.Fatalf("defaults: message %d, fetch %d, replica fetch response %d", c.MessageBytesMax, c.FetchBytesMax, c.ReplicaFetchResponseBytesMax)
	}
	n, err = New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, FetchBytesMax: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.view().FetchBytesMax; got != 4096 {
		t.Fatalf("the view carries fetch.max.bytes %d", got)
	}
}

// Validate names the setting at fault, by the real node's name for it, on one line.
func TestValidateNamesTheSetting(t *testing.T) {
	base := Config{NodeID: 1, Voters: []int32{1}, Broker: true}
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		change func(c *Config)
		want   string
	}{
		{func(c *Config) { c.LeaseDuration = 8 * time.Second }, "broker.lease.ms=8000 is unsafe"},
		{func(c *Config) { c.LeaseDuration = 200 * time.Millisecond }, "broker.lease.ms=200 must exceed broker.heartbeat.interval.ms=250"},
		{func(c *Config) { c.QuorumFetchTimeout = 100 * time.Millisecond }, "controller.quorum.fetch.timeout.ms=100 must exceed"},
		{func(c *Config) { c.SessionTimeout = 200 * time.Millisecond }, "broker.session.timeout.ms=200 must exceed broker.heartbeat.interval.ms"},
		{func(c *Config) { c.ReplicaLagMax = 100 * time.Millisecond }, "replica.lag.time.max.ms=100 must exceed replica.fetch.wait.max.ms=500"},
		{func(c *Config) { c.RequestTimeout = time.Microsecond }, "request.timeout.ms=0.001"},
		{func(c *Config) { c.ElectionTimeout = 1 << 62 }, "controller.quorum.election.timeout.ms"},
		{func(c *Config) { c.ClockDriftMax = 0.5 }, "clock.drift.max=0.5"},
		{func(c *Config) { c.ClockDriftMax = math.NaN() }, "clock.drift.max=NaN"},
		{func(c *Config) { c.Defaults.MinInsyncReplicas = 2 }, "min.insync.replicas=2 above default.replication.factor=1"},
		{func(c *Config) { c.Defaults.ReplicationFactor = 40000 }, "default.replication.factor=40000"},
		{func(c *Config) { c.InFlightPerConnMax = -1 }, "max.inflight.requests.per.connection=-1"},
		{func(c *Config) { c.ConnectionsMax = -1 }, "max.connections=-1"},
		{func(c *Config) { c.BrokerPartitionsMax = -1 }, "max.broker.partitions=-1"},
		{func(c *Config) { c.BrokerPartitionsMax = BrokerPartitionsMaxLimit + 1 }, "max.broker.partitions=1000001"},
		{func(c *Config) { c.Voters = []int32{2, 1} }, "controller.quorum.voters [2 1]"},
		{func(c *Config) { c.Voters = nil }, "controller.quorum.voters is empty"},
		{func(c *Config) { c.Broker, c.NodeID = false, 2 }, "process.roles"},
		{func(c *Config) { c.NodeID = -1 }, "node.id=-1"},
		{func(c *Config) { c.OffsetsRetention = -time.Minute }, "offsets.retention.minutes"},
		{func(c *Config) { c.TxnIDExpiration = -time.Millisecond }, "transactional.id.expiration.ms"},
		{func(c *Config) { c.TxnIDExpiration = time.Microsecond }, "transactional.id.expiration.ms"},
		{func(c *Config) { c.TxnIDExpiration = (TimingMsMax + 1) * time.Millisecond }, "transactional.id.expiration.ms"},
		{func(c *Config) { c.TxnMaxTimeout = 1 << 62 }, "transaction.max.timeout.ms"},
		{func(c *Config) { c.TxnVersion = 3 }, "transaction.version=3"},
		{func(c *Config) { c.TxnVersion = -1 }, "transaction.version=-1"},
		{func(c *Config) { c.OffsetsRetention = 1 << 62 }, "offsets.retention.minutes"},
		{func(c *Config) { c.OffsetsRetentionCheck = 1 << 62 }, "offsets.retention.check.interval.ms"},
	} {
		c := base
		tc.change(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %v, want one line mentioning %q", err, tc.want)
		}
		if _, nerr := New(c); nerr == nil {
			t.Errorf("New accepts what Validate rejects (%q)", tc.want)
		}
	}
}

// The connection limits come from the configuration: a request beyond
// InFlightPerConnMax on one connection, or on one connection more than ConnectionsMax,
// is refused; a silent request (acks=0) leaves the count when its completion is emitted,
// as a response with a nil Msg.
func TestConnLimitsFromConfig(t *testing.T) {
	cfg := Config{InFlightPerConnMax: 2, ConnectionsMax: 2}
	var c conns
	open := func(id ConnID, corr int32) *slot {
		_, s, _ := c.open(&cfg, id, corr)
		return s
	}
	a, b := open(1, 1), open(1, 2)
	if a == nil || b == nil || open(1, 3) != nil {
		t.Fatal("want two requests in flight on connection 1, and no third")
	}
	if open(2, 1) == nil || open(3, 1) != nil {
		t.Fatal("want a second connection, and no third")
	}
	out := c.fill(b, nil, nil)
	if len(out) != 0 {
		t.Fatalf("a response emitted before an earlier one: %v", out)
	}
	out = c.fill(a, &kmsg.ApiVersionsResponse{}, nil)
	if len(out) != 2 || out[0].Corr != 1 || out[0].Msg == nil || out[1].Corr != 2 || out[1].Msg != nil {
		t.Fatalf("emitted %+v, want corr 1 answered, then corr 2 done silently", out)
	}
	if open(1, 3) == nil {
		t.Fatal("the slots did not come back")
	}
}

// The static layer of topic configs is what the configuration lists, plus the typed
// fields it does not list that are off their defaults; replicas enforce it below the
// topic's own and the cluster-wide settings, and DescribeConfigs sees the same layer.
func TestStaticConfigLayer(t *testing.T) {
	cfg := Config{NodeID: 1, Voters: []int32{1}, Broker: true, MessageBytesMax: 500000,
		Defaults:     Defaults{ReplicationFactor: 3, MinInsyncReplicas: 2, FlushAsync: true},
		StaticConfig: metadata.StaticConfig{{Key: "log.retention.ms", Value: "7000"}, {Key: "min.insync.replicas", Value: "2"}}}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := metadata.StaticConfig{{Key: "log.flush", Value: "async"}, {Key: "log.retention.ms", Value: "7000"},
		{Key: "message.max.bytes", Value: "500000"}, {Key: "min.insync.replicas", Value: "2"}}
	if !slices.Equal(n.static, want) || !slices.Equal(n.view().Static, want) {
		t.Fatalf("static layer %v, view %v; want %v", n.static, n.view().Static, want)
	}

	id := [16]byte{7}
	im := metadata.Image{}
	for _, rec := range []metadata.Record{
		metadata.RegisterBroker{BrokerID: 1, Incarnation: [16]byte{1}},
		metadata.Topic{Name: "t", ID: id},
		metadata.Partition{TopicID: id, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
	} {
		if im, err = im.Apply(im.Offset()+1, rec); err != nil {
			t.Fatal(err)
		}
	}
	tp := metadata.TopicPartition{Topic: "t", TopicID: id}
	st := n.replicaState(im, tp)
	if st.MinISR != 2 || st.RetentionMs != 7000 || st.MessageBytesMax != 500000 || !n.topicFlushAsync(im, "t") {
		t.Fatalf("static layer not enforced: %+v", st)
	}
	for _, rec := range []metadata.Record{
		metadata.Config{Resource: metadata.ConfigBroker, Key: "min.insync.replicas", Value: "1"},
		metadata.Config{Resource: metadata.ConfigTopic, Name: "t", Key: "retention.ms", Value: "1000"},
	} {
		if im, err = im.Apply(im.Offset()+1, rec); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.replicaState(im, tp); st.MinISR != 1 || st.RetentionMs != 1000 {
		t.Fatalf("the cluster-wide and the topic's settings do not win over the static ones: %+v", st)
	}

	for _, tc := range []struct {
		change func(c *Config)
		want   string
	}{
		{func(c *Config) { c.StaticConfig[1].Value = "3" }, `min.insync.replicas: the static config says "3", the setting "2"`},
		{func(c *Config) {
			c.StaticConfig = append(c.StaticConfig, metadata.ConfigEntry{Key: "segment.bytes", Value: "1"})
		}, "segment.bytes is not the broker-level key"},
		{func(c *Config) { c.StaticConfig[0].Value = "soon" }, "log.retention.ms"},
	} {
		c := cfg
		c.StaticConfig = slices.Clone(cfg.StaticConfig)
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
