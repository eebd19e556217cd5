package node

import (
	"strings"
	"testing"
)

// The open-file limit must hold the connections, the reserve and max.broker.partitions
// replicas of three files each; the refusal names both settings and what to do.
func TestFileLimitCountsReplicas(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Broker = true
	// The defaults fit the 20,000 files machines and CI commonly allow:
	// 4096 + 256 + 256 + 3*4000 = 16,608.
	need := uint64(cfg.ConnectionsMax+cfg.PeerConnectionsMax+fdReserve) + filesPerReplica*uint64(cfg.BrokerPartitionsMax)
	if need != 16608 {
		t.Fatalf("the defaults need %d files, want 16608", need)
	}
	if err := fileLimitError(&cfg, 20000); err != nil {
		t.Fatalf("20,000 files: %v", err)
	}
	if err := fileLimitError(&cfg, need); err != nil {
		t.Fatalf("exactly enough: %v", err)
	}
	err := fileLimitError(&cfg, need-1)
	if err == nil {
		t.Fatal("one file short accepted")
	}
	for _, want := range []string{"max.broker.partitions=4000", "max.connections=4096", "ulimit -n", "LimitNOFILE", "lower max.connections or max.broker.partitions"} {
		if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("error %q: want one line mentioning %q", msg, want)
		}
	}
	// A node that is no broker holds no replicas.
	cfg.Broker = false
	if err := fileLimitError(&cfg, need-filesPerReplica*uint64(cfg.BrokerPartitionsMax)); err != nil {
		t.Fatalf("controller only: %v", err)
	}
	cfg.Broker = true
	if err := cfg.Set("max.broker.partitions", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := fileLimitError(&cfg, 10000); err != nil {
		t.Fatalf("1000 replicas in 10,000 files: %v", err)
	}
}
