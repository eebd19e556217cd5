package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// catchUpResult is what a catch-up read measured.
type catchUpResult struct {
	records     int64
	recordBytes int64 // keys and values
	wireBytes   int64 // fetch responses as read from the sockets
	elapsed     time.Duration
}

// runCatchUp reads every partition of o.topic from its log start to the end offset it
// had when the run started, as one consumer that is far behind would, and reports the
// rate in record bytes and in bytes on the wire.
func runCatchUp(o benchOptions) int {
	admin, err := o.client.client()
	if err != nil {
		return problem("%v", err)
	}
	defer admin.Close()
	tps, code := benchPartitions(&o, admin)
	if code != exitOK {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	starts, err := listOffsetsRetry(ctx, admin, tps, -2)
	if err != nil {
		return problem("%s", requestError("start offsets", err))
	}
	ends, err := listOffsetsRetry(ctx, admin, tps, -1)
	if err != nil {
		return problem("%s", requestError("end offsets", err))
	}
	res, err := catchUp(ctx, &o, starts, ends)
	if err != nil {
		return problem("bench: catch-up: %v", err)
	}
	secs := res.elapsed.Seconds()
	fmt.Printf("catch-up of topic %s: %d records, %.1f MB of keys and values, %.1f MB of fetch responses, in %.2fs\n",
		o.topic, res.records, float64(res.recordBytes)/1e6, float64(res.wireBytes)/1e6, secs)
	fmt.Printf("catch-up throughput: %.0f records/s, %.1f MB/s of records, %.1f MB/s on the wire\n",
		float64(res.records)/secs, float64(res.recordBytes)/secs/1e6, float64(res.wireBytes)/secs/1e6)
	var want int64
	for tp, end := range ends {
		want += end - starts[tp]
	}
	if res.records != want {
		fmt.Fprintf(os.Stderr, "seedlog: bench: catch-up read %d records of the %d between the start and end offsets\n", res.records, want)
		return exitFailed
	}
	return exitOK
}

// wireCounter counts the bytes of fetch responses a client reads.
type wireCounter struct{ n *atomic.Int64 }

func (w wireCounter) OnBrokerRead(_ kgo.BrokerMetadata, key int16, bytesRead int, _, _ time.Duration, _ error) {
	if key == 1 { // Fetch
		w.n.Add(int64(bytesRead))
	}
}

// catchUp consumes [starts, ends) of every partition. It fails when the client reports
// an error or when no record arrives for the client timeout.
func catchUp(ctx context.Context, o *benchOptions, starts, ends map[topicPartition]int64) (*catchUpResult, error) {
	offsets := map[string]map[int32]kgo.Offset{o.topic: {}}
	end := map[int32]int64{}
	pending := map[int32]bool{} // partitions not yet read to their end
	for tp, start := range starts {
		offsets[o.topic][tp.partition] = kgo.NewOffset().At(start)
		end[tp.partition] = ends[tp]
		if ends[tp] > start {
			pending[tp.partition] = true
		}
	}
	var wire atomic.Int64
	cl, err := o.client.client(kgo.ConsumePartitions(offsets),
		kgo.FetchMaxBytes(int32(o.fetchBytes)), kgo.FetchMaxPartitionBytes(int32(o.fetchBytes)),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.WithHooks(wireCounter{&wire}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	res := &catchUpResult{}
	start := time.Now()
	for len(pending) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, o.client.timeout)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pollCtx.Err() != nil && fs.NumRecords() == 0 {
			return nil, fmt.Errorf("no record for %v with %d partitions still behind their end", o.client.timeout, len(pending))
		}
		if err := fetchesError(fs); err != nil {
			return nil, err
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			// Records written since the run started are not counted.
			for _, r := range p.Records {
				if r.Offset < end[p.Partition] {
					res.records++
					res.recordBytes += int64(len(r.Key) + len(r.Value))
				}
			}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset+1 >= end[p.Partition] {
				delete(pending, p.Partition)
			}
		})
	}
	res.elapsed = time.Since(start)
	res.wireBytes = wire.Load()
	return res, nil
}

// fetchesError is the first error of fs other than a poll that ended on its context.
func fetchesError(fs kgo.Fetches) error {
	for _, e := range fs.Errors() {
		if e.Err != context.DeadlineExceeded && e.Err != context.Canceled {
			return fmt.Errorf("partition %d: %w", e.Partition, e.Err)
		}
	}
	return nil
}
