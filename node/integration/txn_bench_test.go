package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkTransactions compares transactional produce with idempotent produce on one
// cluster, in the same run: 3 brokers, a topic of 3 partitions with 3 replicas, 1 KiB
// records, acks=all. A transaction writes 10 records spread over the 3 partitions and
// commits; the idempotent producer writes the same 10 records and waits for them
// (Flush), so both pay one round of acknowledgements per 10 records. It reports
// transactions per second and MB/s for each, and the ratio of the two:
//
//	go test ./node/integration -run '^$' -bench Transactions -benchtime 2000x -timeout 30m
func BenchmarkTransactions(b *testing.B) {
	c := newCluster(b, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, "txn-bench", 3, 3)
	value := make([]byte, 1024)
	const perTxn = 10
	run := func(cl *kgo.Client, txn bool, rounds int) time.Duration {
		start := time.Now()
		for range rounds {
			if txn {
				if err := cl.BeginTransaction(); err != nil {
					b.Fatal(err)
				}
			}
			for j := range perTxn {
				cl.Produce(context.Background(), &kgo.Record{Partition: int32(j % 3), Value: value}, nil)
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			if txn {
				if err := cl.EndTransaction(context.Background(), kgo.TryCommit); err != nil {
					b.Fatal(err)
				}
			}
		}
		return time.Since(start)
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic("txn-bench"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks())}
	idem := c.client(opts...)
	txn := c.client(append(opts, kgo.TransactionalID(fmt.Sprintf("bench-%d", b.N)))...)
	// A warm-up round each: the producer ids, the coordinator and the connections.
	run(idem, false, 1)
	run(txn, true, 1)
	b.ResetTimer()
	idemTook := run(idem, false, b.N)
	txnTook := run(txn, true, b.N)
	b.StopTimer()
	mb := float64(b.N*perTxn*len(value)) / 1e6
	b.ReportMetric(float64(b.N)/txnTook.Seconds(), "txn/s")
	b.ReportMetric(mb/txnTook.Seconds(), "txn-MB/s")
	b.ReportMetric(float64(b.N)/idemTook.Seconds(), "idempotent-rounds/s")
	b.ReportMetric(mb/idemTook.Seconds(), "idempotent-MB/s")
	b.ReportMetric(idemTook.Seconds()/txnTook.Seconds(), "txn/idempotent")
}
