package node

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
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

func TestPropertiesOverDefaultsAndFlagsOverProperties(t *testing.T) {
	p, err := ParseProperties(strings.NewReader(`
# a comment
! another
node.id = 2
process.roles=broker
controller.quorum.voters=1@h1:9093,3@h3:9093
listeners=PLAINTEXT://0.0.0.0:9092
broker.session.timeout.ms: 6000
log.flush=async
`))
	must(t, err)
	c := DefaultConfig()
	must(t, c.Apply(p))
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	apply := FlagOverrides(fs)
	must(t, fs.Parse([]string{"--node.id=4", "--broker.lease.ms", "1500"}))
	must(t, apply(&c))
	if c.NodeID != 4 || c.Controller || !c.Broker || c.Listener != "0.0.0.0:9092" {
		t.Errorf("node %d controller %v broker %v listener %q", c.NodeID, c.Controller, c.Broker, c.Listener)
	}
	if c.Timing.SessionTimeout != 6*time.Second || c.Timing.LeaseDuration != 1500*time.Millisecond || !c.Defaults.FlushAsync {
		t.Errorf("timing %+v flush async %v", c.Timing, c.Defaults.FlushAsync)
	}
	if len(c.Voters) != 2 || c.Voters[1] != (Voter{3, "h3:9093"}) {
		t.Errorf("voters %+v", c.Voters)
	}
	must(t, c.Validate())
	if got := c.CoreConfig(1, "h", 9092); got.Voters[0] != 1 || got.Voters[1] != 3 || got.Broker != true {
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
		{"socket.request.max.bytes=2000000000", "at most"},
		{"min.insync.replicas=2", "above default.replication.factor"},
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
// shows every key with its default.
func TestExampleListsEverySetting(t *testing.T) {
	text, err := os.ReadFile("example.properties")
	must(t, err)
	c, err := LoadConfig("example.properties")
	must(t, err)
	must(t, c.Validate())
	for _, s := range Settings() {
		line := fmt.Sprintf("%s=%s\n", s.Key, s.Default)
		if !strings.Contains(string(text), line) {
			t.Errorf("example.properties lacks the line %q", strings.TrimSpace(line))
		}
	}
	if fmt.Sprint(c) != fmt.Sprint(DefaultConfig()) {
		t.Errorf("example.properties changes the defaults:\n%+v\n%+v", c, DefaultConfig())
	}
}
