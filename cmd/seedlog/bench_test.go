package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/node"
)

// startPlainBroker runs a one-broker cluster (its own controller) on loopback ports and
// returns its client address.
func startPlainBroker(t *testing.T) string {
	t.Helper()
	peer := freeLoopback(t)
	return startBroker(t, map[string]string{
		"controller.quorum.voters":       "1@" + peer,
		"listeners":                      "PLAINTEXT://127.0.0.1:0,PEER://" + peer,
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,PEER:PLAINTEXT",
		"log.dirs":                       filepath.Join(t.TempDir(), "data"),
		"default.replication.factor":     "1",
		"min.insync.replicas":            "1",
	}).ClientAddr()
}

// startBroker runs a node with the defaults and settings until the test ends.
func startBroker(t *testing.T, settings map[string]string) *node.Node {
	t.Helper()
	cfg := node.DefaultConfig()
	for k, v := range settings {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, err := node.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		n.Stop()
		cancel()
		<-done
	})
	return n
}

// TestBenchBytesThenCatchUp: `bench --bytes` writes exactly the whole records its byte
// count takes, and `bench --catch-up` reads them all back from the start of every
// partition, in fetches smaller than the log, counting each record once and none past
// the end offsets it started from. Timings are printed, not checked.
func TestBenchBytesThenCatchUp(t *testing.T) {
	addr := startPlainBroker(t)
	run := func(args ...string) {
		t.Helper()
		args = append(args, "-b", addr, "--timeout", "30s")
		if code := dispatch(args); code != exitOK {
			t.Fatalf("seedlog %s: exit %d", strings.Join(args, " "), code)
		}
	}
	run("topic", "create", "cu", "--partitions", "2", "--replication-factor", "1")
	// 200 records of 1000 bytes; the last byte asks for a whole record more.
	run("bench", "--topic", "cu", "--record-size", "1000", "--bytes", "200001", "--compression", "none", "--warmup", "0s")
	o := benchOptions{topic: "cu", fetchBytes: 4096}
	o.client.brokers, o.client.timeout = addr, 30*time.Second
	admin, err := o.client.client()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	tps, code := benchPartitions(&o, admin)
	if code != exitOK || len(tps) != 2 {
		t.Fatalf("partitions %v, exit %d", tps, code)
	}
	ctx := context.Background()
	starts, err := listOffsetsRetry(ctx, admin, tps, -2)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := listOffsetsRetry(ctx, admin, tps, -1)
	if err != nil {
		t.Fatal(err)
	}
	var written int64
	for tp, end := range ends {
		written += end - starts[tp]
	}
	if written != 201 {
		t.Fatalf("bench --bytes 200001 --record-size 1000 wrote %d records, want 201", written)
	}
	res, err := catchUp(ctx, &o, starts, ends)
	if err != nil {
		t.Fatal(err)
	}
	if res.records != 201 || res.recordBytes != 201*1000 || res.wireBytes <= res.recordBytes {
		t.Errorf("catch-up read %d records, %d record bytes, %d wire bytes; want 201, 201000, more than that", res.records, res.recordBytes, res.wireBytes)
	}
	// End offsets below the log's end stand for records written after the run started:
	// the catch-up stops at them and does not count what lies beyond.
	lower := map[topicPartition]int64{}
	var want int64
	for tp, end := range ends {
		lower[tp] = starts[tp] + (end-starts[tp])/2
		want += lower[tp] - starts[tp]
	}
	if res, err = catchUp(ctx, &o, starts, lower); err != nil {
		t.Fatal(err)
	}
	if res.records != want {
		t.Errorf("catch-up to half the end offsets read %d records, want %d", res.records, want)
	}
	run("bench", "--catch-up", "--topic", "cu", "--fetch-max-bytes", "10000")
}
