package node

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/metadata"
)

func TestDefaultsValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	if c.Timing != core.DefaultTiming {
		t.Errorf("default timing %+v, want core's %+v", c.Timing, core.DefaultTiming)
	}
	if !c.Broker || !c.Controller || c.NodeID != 1 || c.FrameBytesMax != 100<<20 {
		t.Errorf("defaults: %+v", c)
	}
}

// The offsets' lifetime reaches the group coordinators' configuration.
func TestOffsetsRetentionReachesTheCore(t *testing.T) {
	c := DefaultConfig()
	if cc := c.CoreConfig(0, nil); cc.OffsetsRetention != 7*24*time.Hour || cc.OffsetsRetentionCheck != 10*time.Minute {
		t.Errorf("defaults: retention %v, check %v", cc.OffsetsRetention, cc.OffsetsRetentionCheck)
	}
	must(t, c.Set("offsets.retention.minutes", "1"))
	must(t, c.Set("offsets.retention.check.interval.ms", "250"))
	must(t, c.Validate())
	if cc := c.CoreConfig(0, nil); cc.OffsetsRetention != time.Minute || cc.OffsetsRetentionCheck != 250*time.Millisecond {
		t.Errorf("set: retention %v, check %v", cc.OffsetsRetention, cc.OffsetsRetentionCheck)
	}
}

// transactional.id.expiration.ms reaches the transaction coordinators' configuration.
func TestTxnIDExpirationReachesTheCore(t *testing.T) {
	c := DefaultConfig()
	if cc := c.CoreConfig(0, nil); cc.TxnIDExpiration != 7*24*time.Hour {
		t.Errorf("default %v", cc.TxnIDExpiration)
	}
	must(t, c.Set("transactional.id.expiration.ms", "1500"))
	must(t, c.Validate())
	if cc := c.CoreConfig(0, nil); cc.TxnIDExpiration != 1500*time.Millisecond {
		t.Errorf("set: %v", cc.TxnIDExpiration)
	}
	if err := c.Set("transactional.id.expiration.ms", "0"); err == nil {
		t.Error("an expiration of 0 ms accepted")
	}
}

// transaction.version reaches the core, defaults to core.DefaultTxnVersion, and takes 1
// or 2 only.
func TestTxnVersionReachesTheCore(t *testing.T) {
	c := DefaultConfig()
	if cc := c.CoreConfig(0, nil); cc.TxnVersion != core.DefaultTxnVersion {
		t.Errorf("default %d", cc.TxnVersion)
	}
	must(t, c.Set("transaction.version", "1"))
	must(t, c.Validate())
	if cc := c.CoreConfig(0, nil); cc.TxnVersion != 1 {
		t.Errorf("set: %d", cc.TxnVersion)
	}
	for _, bad := range []string{"3", "0", "x"} {
		c := DefaultConfig()
		if err := c.Set("transaction.version", bad); err == nil {
			if err := c.Validate(); err == nil {
				t.Errorf("transaction.version=%s accepted", bad)
			}
		}
	}
}

func TestPropertiesOverDefaultsAndFlagsOverProperties(t *testing.T) {
	p, err := ParseProperties(strings.NewReader(`
# a comment
! another
node.id = 2
process.roles=broker
controller.quorum.voters=1@h1:9093,3@h3:9093
listeners=PLAINTEXT://0.0.0.0:9092,PEER://0.0.0.0:9093
peer.secret.file=/etc/seedlog/peer.secret
broker.session.timeout.ms: 6000
log.flush=async
`))
	must(t, err)
	c := DefaultConfig()
	must(t, c.Apply(p))
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	apply := FlagOverrides(fs)
	must(t, fs.Parse([]string{"--node.id=4", "--broker.lease.ms", "2500"}))
	must(t, apply(&c))
	if c.NodeID != 4 || c.Controller || !c.Broker || c.Listeners[0].Addr != "0.0.0.0:9092" {
		t.Errorf("node %d controller %v broker %v listeners %+v", c.NodeID, c.Controller, c.Broker, c.Listeners)
	}
	if c.Timing.SessionTimeout != 6*time.Second || c.Timing.LeaseDuration != 2500*time.Millisecond || !c.Defaults.FlushAsync {
		t.Errorf("timing %+v flush async %v", c.Timing, c.Defaults.FlushAsync)
	}
	if len(c.Voters) != 2 || c.Voters[1] != (Voter{3, "h3:9093"}) {
		t.Errorf("voters %+v", c.Voters)
	}
	must(t, c.Validate())
	if l := c.Listeners; l[0].Peer || l[0].Protocol != "PLAINTEXT" || !l[1].Peer || c.PeerProtocol() != "PLAINTEXT" {
		t.Errorf("listeners resolved as %+v", l)
	}
	if got := c.CoreConfig(1, nil); got.Voters[0] != 1 || got.Voters[1] != 3 || got.Broker != true {
		t.Errorf("core config %+v", got)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"nodeid=1", `unknown setting "nodeid"`},
		{"node.id=x", "node.id"},
		{"listeners=9092", "listeners"},
		{"controller.quorum.voters=1@h:1,1@h:2", "listed twice"},
		{"log.flush=sometimes", "log.flush"},
		{"node.id=1\nnode.id=2", "set twice"},
		{"process.roles=broker\nnode.id=1", "lacks controller"},
		{"process.roles=controller\nnode.id=5", "not in controller.quorum.voters"},
		{"broker.lease.ms=9000", "below broker.session.timeout.ms"},
		{"broker.lease.ms=8000", "broker.lease.ms=8000 is unsafe"},
		{"broker.lease.ms=200", "broker.lease.ms=200 must exceed broker.heartbeat.interval.ms=250"},
		{"clock.drift.max=NaN", "clock.drift.max"},
		{"replica.lag.time.max.ms=400", "replica.lag.time.max.ms=400 must exceed replica.fetch.wait.max.ms=500"},
		{"controller.quorum.fetch.timeout.ms=100", "must exceed controller.quorum.fetch.max.wait.ms=125"},
		{"broker.session.timeout.ms=99999999999", "broker.session.timeout.ms"},
		{"fetch.max.bytes=4294967296", "fetch.max.bytes"},
		{"max.incremental.fetch.session.cache.slots=-1", "max.incremental.fetch.session.cache.slots"},
		{"max.incremental.fetch.session.cache.slots=100001", "max.incremental.fetch.session.cache.slots"},
		{"fetch.span.files.max=0", "fetch.span.files.max"},
		{"fetch.span.files.max=1048577", "fetch.span.files.max"},
		{"socket.request.max.bytes=2000000000", "at most"},
		{"min.insync.replicas=2", "above default.replication.factor"},
		{"listeners=127.0.0.1:9092", "NAME://host:port"},
		{"listeners=PLAINTEXT://h:1,PLAINTEXT://h:2", "given twice"},
		{"listeners=PLAINTEXT://h:1,OTHER://h:2", "OTHER has no security protocol"},
		{"listeners=PEER://h:2", "needs a client listener"},
		{"listeners=PLAINTEXT://h:1", "needs its controller listener PEER"},
		{"listener.security.protocol.map=PLAINTEXT:TLS", "unknown security protocol"},
		{"listener.security.protocol.map=PLAINTEXT:SSL,PEER:PLAINTEXT", "listener PLAINTEXT uses SSL: set tls.cert.file and tls.key.file"},
		{"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PEER:SASL_SSL", "peers authenticate with peer.secret.file (PLAINTEXT) or mutual TLS (SSL)"},
		{"tls.key.file=k.pem", "tls.cert.file and tls.key.file go together"},
		{"tls.cert.file=/nonexistent/c.pem\ntls.key.file=/nonexistent/k.pem", "tls.cert.file: open /nonexistent/c.pem: no such file or directory"},
		{"ssl.client.auth=required", "ssl.client.auth=required: set tls.client.ca.file"},
		{"ssl.client.auth=sometimes", "ssl.client.auth: want none, requested or required"},
		{"tls.handshake.timeout.ms=0", "tls.handshake.timeout.ms"},
		{"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PEER:SSL", "peer.tls.cert.file"},
		{"peer.tls.cert.file=c.pem", "go together"},
		{"advertised.listeners=NOPE://h:1", "not in listeners"},
		{"controller.quorum.voters=1@h:1,2@h:2", "peers are not authenticated"},
		{"peers=7@h:7", "peers are not authenticated"},
		{"message.max.bytes=200000000", "above socket.request.max.bytes"},
		{"queued.max.request.bytes=1048576", "could never be read"},
		{"metrics.listener=nohost", "metrics.listener"},
		{"offsets.retention.minutes=0", "offsets.retention.minutes: want minutes in [1, 52560000]"},
		{"offsets.retention.minutes=52560001", "offsets.retention.minutes"},
		{"offsets.retention.check.interval.ms=0", "offsets.retention.check.interval.ms"},
	} {
		c := DefaultConfig()
		p, err := ParseProperties(strings.NewReader(tc.text))
		if err == nil {
			err = c.Apply(p)
		}
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.text, err, tc.want)
		}
	}
}

// TestExampleListsEverySetting keeps example.properties, the documented sample, in step
// with the settings table: it parses over the defaults without changing any of them, and
// shows every key with its default. Setting them makes the broker-level keys of topic
// configs static settings (TopicDefaults), as server.properties does in Kafka.
func TestExampleListsEverySetting(t *testing.T) {
	text, err := os.ReadFile("example.properties")
	must(t, err)
	c, err := LoadConfig("example.properties")
	must(t, err)
	must(t, c.Validate())
	var static []string
	for _, s := range Settings() {
		line := fmt.Sprintf("%s=%s\n", s.Key, s.Default)
		if !strings.Contains(string(text), line) {
			t.Errorf("example.properties lacks the line %q", strings.TrimSpace(line))
		}
		if d, ok := metadata.BrokerConfigDef(s.Key); ok {
			static = append(static, s.Key)
			if c.TopicDefaults[s.Key] != d.Default {
				t.Errorf("static %s=%q, want the table default %q", s.Key, c.TopicDefaults[s.Key], d.Default)
			}
		}
	}
	if got := slices.Sorted(maps.Keys(c.TopicDefaults)); !slices.Equal(got, slices.Sorted(slices.Values(static))) {
		t.Errorf("static topic defaults %v, want %v", got, static)
	}
	def := DefaultConfig()
	must(t, def.Validate())
	c.TopicDefaults = nil
	if fmt.Sprint(c) != fmt.Sprint(def) {
		t.Errorf("example.properties changes the defaults:\n%+v\n%+v", c, def)
	}
}

// Every broker-level key of the topic config table is a setting, and the ones the
// file or the flags give reach the core as its static config, in the core's form.
func TestTopicDefaultsReachTheCore(t *testing.T) {
	for _, d := range metadata.TopicConfigDefs() {
		if _, ok := lookupSetting(d.BrokerName); !ok {
			t.Errorf("%s (the broker-level key of %s) is not a setting", d.BrokerName, d.Name)
		}
	}
	c := DefaultConfig()
	if cc := c.CoreConfig(0, nil); len(cc.StaticConfig) != 0 {
		t.Fatalf("defaults give a static config: %v", cc.StaticConfig)
	}
	base := c
	must(t, c.Apply(Properties{Keys: []string{"default.replication.factor", "min.insync.replicas", "log.retention.ms", "log.flush", "log.roll.ms"},
		Values: map[string]string{"default.replication.factor": "3", "min.insync.replicas": "2", "log.retention.ms": " 7000 ", "log.flush": "async", "log.roll.ms": "60000"}}))
	must(t, c.Validate())
	want := metadata.StaticConfig{{Key: "log.flush", Value: "async"}, {Key: "log.retention.ms", Value: "7000"},
		{Key: "log.roll.ms", Value: "60000"}, {Key: "min.insync.replicas", Value: "2"}}
	cc := c.CoreConfig(0, nil)
	if !slices.Equal(cc.StaticConfig, want) {
		t.Fatalf("static config %v, want %v", cc.StaticConfig, want)
	}
	if _, err := core.New(cc); err != nil {
		t.Fatal(err)
	}
	if len(base.TopicDefaults) != 0 {
		t.Fatalf("setting a copy changed the original: %v", base.TopicDefaults)
	}
	if err := c.Set("log.cleanup.policy", "shred"); err == nil {
		t.Fatal("log.cleanup.policy=shred accepted")
	}
	if err := c.Set("unclean.leader.election.enable", "true"); err == nil {
		t.Fatal("unclean.leader.election.enable=true accepted")
	}
}
