package scenario

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedlog/seedlog/sim/simtest"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts of the stories")

// toyBase runs scripts on the toy node, to test the language itself.
var toyBase = Options{Base: simtest.Options(0, false)}

func TestToyScript(t *testing.T) {
	script := `# the toy keeps its topics on node 1
cluster voters=1 brokers=3 seed=3
run 1s
create-topic t partitions=2
expect last == ok
create-topic t partitions=2
expect last == TOPIC_ALREADY_EXISTS
describe t
crash 1
describe t timeout=2s
restart 1
run 1s
describe t
expect last == exists, 2 partitions
list-brokers
status
`
	out, err := Run(script, toyBase)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"# the toy keeps its topics on node 1\n",
		"> cluster voters=1 brokers=3 seed=3\ncluster: 3 nodes, voters [1], brokers [1 2 3]\n",
		"> create-topic t partitions=2\n-> ok\n",
		"-> TOPIC_ALREADY_EXISTS\n",
		"> describe t timeout=2s\n-> pending\n",
		"> describe t\n-> exists, 2 partitions\n",
		"-> brokers [1 2 3]\n",
		"> status\nn1 up\nn2 up\nn3 up\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	again, err := Run(script, toyBase)
	if err != nil || again != out {
		t.Fatalf("a script gave two transcripts (%v)", err)
	}
}

func TestScriptErrorsNameTheLine(t *testing.T) {
	cases := map[string]string{
		"run 1s":                                                "line 1: run 1s: build the cluster first",
		"cluster voters=2":                                      "odd number of voters",
		"cluster voters=1 brokers=2\nfly away":                  `line 2: fly away: unknown command "fly"`,
		"cluster voters=1 brokers=2\ncrash 9":                   `"9" is not a node`,
		"cluster voters=1 brokers=2\nrun soon":                  "is not a duration",
		"cluster voters=1 brokers=2\nexpect leader":             "line 2: expect leader: expectation failed: the quorum has no leader",
		"cluster voters=1 brokers=2\nrun 1s\nrestart 1":         "node 1 is up",
		"cluster voters=1 brokers=2\npartition 1 |":             "want: partition",
		"cluster voters=1 brokers=2\nexpect last == ok":         "expectation failed",
		"cluster voters=1 brokers=2\nexpect isr t/0 has 1":      "want: expect isr",
		"cluster voters=1 brokers=2\nexpect leader-of t/0 = 1":  "want: expect leader-of",
		"cluster voters=1 brokers=2\nexpect leader-of t/0 == 1": "expectation failed: the quorum has no leader",
		"# nothing": "never built a cluster",
		"cluster voters=1 brokers=2\nexpect follows all":         "the quorum has no leader",
		"cluster voters=1 brokers=2\nexpect durable t/0 1 >= 1":  "holds no replica of t/0",
		"cluster voters=1 brokers=2\nexpect hw 1 == 3":           "node 1 is down or has no quorum state",
		"cluster voters=1 brokers=2\nexpect vote 1 > log-nope 2": "cannot compare with",
		"cluster voters=1 brokers=2\nexpect note 1 x >= y":       "is not a count",
		"cluster voters=1 brokers=2\nexpect leader-in-isr t/*":   "no leader to ask",
		"cluster voters=1 brokers=2\nexpect fenced crashed":      "no node was crashed",
		"cluster voters=1 brokers=2\nexpect metadata 1 == 0":     "no metadata image",
	}
	for script, want := range cases {
		_, err := Run(script, toyBase)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("script %q: error %v, want %q", script, err, want)
		}
	}
}

// TestStories runs the quorum stories in testdata against the real node and compares
// each transcript with its golden file (go test -update rewrites them).
func TestStories(t *testing.T) {
	scripts, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no stories: %v", err)
	}
	for _, path := range scripts {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			script, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Run(string(script), Options{})
			if err != nil {
				t.Fatalf("%v\ntranscript so far:\n%s", err, out)
			}
			golden := strings.TrimSuffix(path, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sim/scenario -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("transcript differs from %s (go test ./sim/scenario -update to accept):\n--- got\n%s--- want\n%s", golden, out, want)
			}
		})
	}
}

// A script that starts with seed is a scenario file: a whole run of the seed's
// configuration whose faults and operations come from the script.
func TestReplayScript(t *testing.T) {
	script := `# two crashes of node 1, the second while it is down
seed 4
at 2s crash 1 down=3s
at 2.5s crash 1 down=1s
at 3s client 1 create-topic t9 partitions=2 rf=1
`
	out, err := Run(script, toyBase)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"# two crashes of node 1, the second while it is down\n",
		"> replay of seed 4: 2 faults, 1 client operations\n",
		"not applied: at 2.5s crash 1 down=1s: node 1 is down\n",
		"-> passed (",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if _, err := Run("seed 4\nat 1s crash 99 down=1s\n", toyBase); err == nil || !strings.Contains(err.Error(), "no node 99") {
		t.Fatalf("a step on a node that does not exist: %v", err)
	}
}
