package node

import (
	"strings"
	"testing"
)

// The open-file limit must hold the connections and the reserve, or the node refuses to
// start; when what is left after the file cache and the span files cannot hold
// max.broker.partitions replicas of a file each, it warns. Both messages name the settings and what to do.
func TestFileLimitCountsReplicas(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Broker = true
	conns := uint64(cfg.ConnectionsMax+cfg.PeerConnectionsMax) + fdReserve
	// The defaults fit the 20,000 files machines and CI commonly allow:
	// 4096 + 256 + 256 + 2048 + 1024 + 4000 = 11,680.
	need := conns + uint64(cfg.OpenFilesMax) + uint64(cfg.SpanFilesMax) + filesPerReplica*uint64(cfg.BrokerPartitionsMax)
	if need != 11680 {
		t.Fatalf("the defaults need %d files, want 11680", need)
	}
	for _, limit := range []uint64{20000, need} {
		if w, err := fileLimitCheck(&cfg, limit); w != "" || err != nil {
			t.Fatalf("%d files: warning %q, error %v", limit, w, err)
		}
	}
	w, err := fileLimitCheck(&cfg, need-1)
	if err != nil || w == "" {
		t.Fatalf("one file short of the replicas: warning %q, error %v", w, err)
	}
	for _, want := range []string{"max.broker.partitions=4000", "log.open.files.max=2048", "fetch.span.files.max=1024", "holds the logs of 3999 partition replicas", "raise the limit to 11680", "ulimit -n", "LimitNOFILE"} {
		if !strings.Contains(w, want) || strings.Contains(w, "\n") {
			t.Errorf("warning %q: want one line mentioning %q", w, want)
		}
	}
	_, err = fileLimitCheck(&cfg, conns-1)
	if err == nil {
		t.Fatal("one file short of the connections accepted")
	}
	for _, want := range []string{"max.connections=4096", "ulimit -n", "lower max.connections"} {
		if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("error %q: want one line mentioning %q", msg, want)
		}
	}
	// A node that is no broker holds no replicas.
	cfg.Broker = false
	if w, err := fileLimitCheck(&cfg, conns); w != "" || err != nil {
		t.Fatalf("controller only: warning %q, error %v", w, err)
	}
}
