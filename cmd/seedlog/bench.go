package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type benchOptions struct {
	client      clientOptions
	topic       string
	partitions  int
	rf          int
	recordBytes int
	acks        string
	rate        float64 // records per second; 0: as fast as the cluster takes them
	rateMB      float64
	duration    time.Duration
	bytes       int64 // of record values to produce, instead of a duration (0: by duration)
	warmup      time.Duration
	consume     bool
	catchUp     bool
	fetchBytes  int // the catch-up consumer's fetch size
	linger      time.Duration
	compression string
}

func benchCommand(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchOptions
	o.client.register(fs)
	fs.StringVar(&o.topic, "topic", "", "topic to write (default: a new one, bench-<time>)")
	fs.IntVar(&o.partitions, "partitions", 1, "partitions of the topic the bench creates")
	fs.IntVar(&o.rf, "replication-factor", 1, "replication factor of the topic the bench creates")
	fs.IntVar(&o.recordBytes, "record-size", 1024, "bytes of each record's value")
	fs.StringVar(&o.acks, "acks", "all", "all, 1 or 0")
	fs.Float64Var(&o.rate, "rate", 0, "records per second (0: no limit)")
	fs.Float64Var(&o.rateMB, "rate-mb", 0, "MB/s of record values (overrides --rate)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to produce")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "latencies of records sent in this first stretch are not counted")
	fs.Int64Var(&o.bytes, "bytes", 0, "produce this many bytes of record values (whole records) and stop, instead of running for --duration")
	fs.BoolVar(&o.consume, "consume", false, "also consume the topic meanwhile and report end-to-end latency")
	fs.BoolVar(&o.catchUp, "catch-up", false, "produce nothing: read --topic from its start to its end (as it is when the run starts) with large fetches and report MB/s")
	// 16 MiB: larger fetches were slower on a dev cluster (a broker keeps a read buffer
	// of at most 16 MiB between reads; each larger read allocates its own).
	fs.IntVar(&o.fetchBytes, "fetch-max-bytes", 16<<20, "with --catch-up: the consumer's fetch size, per response and per partition (the broker caps it at its fetch.max.bytes)")
	fs.DurationVar(&o.linger, "linger", 0, "producer linger (batching delay)")
	fs.StringVar(&o.compression, "compression", "snappy", "batch compression: none, gzip, snappy, lz4 or zstd")
	const synopsis = "seedlog bench [-b host:port] [--topic T] [--partitions N] [--replication-factor R] [--record-size B] [--acks all|1|0] [--rate N | --rate-mb X] [--duration D | --bytes N] [--consume]\n       seedlog bench --catch-up --topic T [-b host:port]"
	pos, code, ok := o.client.parse(fs, args, synopsis)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("bench: unexpected argument %q", pos[0])
	}
	if _, err := producerOpts(o.acks); err != nil {
		return usageError("bench: %v", err)
	}
	if _, err := compressionOpt(o.compression); err != nil {
		return usageError("bench: %v", err)
	}
	if o.catchUp {
		if o.topic == "" || o.consume || o.bytes != 0 || o.fetchBytes < 1 || o.fetchBytes > 1<<30 {
			return usageError("bench: --catch-up reads an existing --topic with --fetch-max-bytes in [1, 1 GiB], and neither produces (--bytes) nor consumes alongside (--consume)")
		}
		return runCatchUp(o)
	}
	if o.recordBytes < 1 || o.partitions < 1 || o.rf < 1 || o.duration <= 0 || o.rate < 0 || o.rateMB < 0 || o.warmup < 0 || o.bytes < 0 {
		return usageError("bench: --record-size, --partitions, --replication-factor and --duration must be positive, rates and --bytes not negative")
	}
	if o.bytes == 0 && o.warmup >= o.duration {
		return usageError("bench: --duration must be above --warmup")
	}
	if o.rateMB > 0 {
		o.rate = o.rateMB * 1e6 / float64(o.recordBytes)
	}
	return runBench(o)
}

func runBench(o benchOptions) int {
	admin, err := o.client.client()
	if err != nil {
		return problem("%v", err)
	}
	defer admin.Close()
	if o.topic == "" {
		o.topic = fmt.Sprintf("bench-%d", time.Now().UnixNano())
		if code := benchCreateTopic(&o, admin); code != exitOK {
			return code
		}
	}
	tps, code := benchPartitions(&o, admin)
	if code != exitOK {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	before, err := listOffsetsRetry(ctx, admin, tps, -1)
	if err != nil {
		return problem("%s", requestError("end offsets before the run", err))
	}
	var cons *benchConsumer
	if o.consume {
		if cons, err = startBenchConsumer(&o, before); err != nil {
			return problem("%v", err)
		}
		defer cons.cl.Close()
	}
	res, err := benchProduce(ctx, &o)
	if err != nil {
		return problem("bench: %v", err)
	}
	res.report(&o)
	after, err := listOffsetsRetry(context.Background(), admin, tps, -1)
	if err != nil {
		return problem("%s", requestError("end offsets after the run", err))
	}
	exit := checkLogCount(res, before, after)
	if cons != nil {
		cons.finish(res.acked, &o)
	}
	return exit
}

func benchCreateTopic(o *benchOptions, cl *kgo.Client) int {
	ctx, cancel := o.client.ctx()
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = o.topic, int32(o.partitions), int16(o.rf)
	if o.rf == 1 {
		// A cluster default of min.insync.replicas=2 would refuse every acks=all write
		// to a single replica.
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = "min.insync.replicas", kmsg.StringPtr("1")
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = int32(o.client.timeout.Milliseconds())
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return problem("%s", requestError("create topic "+o.topic, err))
	}
	if err := codeError(resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage); err != nil {
		return problem("bench: create topic %s: %v", o.topic, err)
	}
	return exitOK
}

// benchPartitions waits until every partition of the topic has a leader and returns them.
func benchPartitions(o *benchOptions, cl *kgo.Client) ([]topicPartition, int) {
	deadline := time.Now().Add(o.client.timeout)
	for {
		meta, code := requestMetadata(&o.client, cl, []string{o.topic})
		if meta == nil {
			return nil, code
		}
		var tps []topicPartition
		ready := len(meta.Topics) == 1 && meta.Topics[0].ErrorCode == 0 && len(meta.Topics[0].Partitions) > 0
		if ready {
			for _, p := range meta.Topics[0].Partitions {
				ready = ready && p.ErrorCode == 0 && p.Leader >= 0
				tps = append(tps, topicPartition{o.topic, p.Partition})
			}
		}
		if ready {
			return tps, exitOK
		}
		if time.Now().After(deadline) {
			return nil, problem("bench: topic %s has partitions without a leader", o.topic)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func listOffsetsRetry(ctx context.Context, cl *kgo.Client, tps []topicPartition, ts int64) (map[topicPartition]int64, error) {
	for {
		out, err := listOffsets(ctx, cl, tps, ts)
		if err == nil && len(out) == len(tps) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("some partitions answered with an error")
			}
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// benchResult is what the producer measured.
type benchResult struct {
	sent, acked, failed int64
	firstErr            error
	elapsed             time.Duration
	latencies           []time.Duration // of acknowledged records sent after the warmup
	// sendLags (with a rate) are how late the bench itself handed each record counted to
	// the client: latency the broker cannot have caused (a busy machine, the bench's GC);
	// fromHandoff are the latencies of the same records from that hand-off.
	sendLags, fromHandoff []time.Duration
}

// benchProduce sends records on a schedule and measures each one's latency from the time
// it was meant to be sent, not from when the client got to send it: a broker that stalls
// delays the schedule's later records too, and their wait counts (no coordinated
// omission). Without a rate the schedule is "now", and latency counts from the call.
func benchProduce(ctx context.Context, o *benchOptions) (*benchResult, error) {
	opts, _ := producerOpts(o.acks)
	codec, _ := compressionOpt(o.compression)
	opts = append(opts, codec, kgo.DefaultProduceTopic(o.topic), kgo.ProducerLinger(o.linger),
		kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchMaxBytes(1<<20),
		// A record the cluster keeps refusing fails instead of blocking the bench.
		kgo.RecordDeliveryTimeout(30*time.Second))
	cl, err := o.client.client(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	value := make([]byte, o.recordBytes)
	rand.Read(value)
	res := &benchResult{}
	// One record first, outside the measurement: a new topic's followers may still be
	// starting, and the client must learn the leaders.
	probeCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = cl.ProduceSync(probeCtx, &kgo.Record{Value: value}).FirstErr()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("the topic does not take a first record: %w", err)
	}
	res.sent, res.acked = 1, 1
	var mu sync.Mutex
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) / o.rate)
	}
	start := time.Now()
	warmEnd := start.Add(o.warmup)
	end := start.Add(o.duration)
	if o.bytes > 0 {
		end = time.Unix(1<<40, 0) // --bytes alone ends the run
	}
	for i := int64(0); o.bytes == 0 || res.sent*int64(o.recordBytes) < o.bytes; i++ {
		intended := time.Now()
		if interval > 0 {
			intended = start.Add(time.Duration(i) * interval)
			if d := time.Until(intended); d > 0 {
				time.Sleep(d)
			}
		}
		if !intended.Before(end) || ctx.Err() != nil {
			break
		}
		counted := !intended.Before(warmEnd)
		handoff := intended
		if interval > 0 {
			handoff = time.Now()
			if counted {
				res.sendLags = append(res.sendLags, handoff.Sub(intended))
			}
		}
		// The record's timestamp is its intended send time: kgo would read the clock once
		// more, and reading it costs a 100-byte record's send a third of its CPU here.
		cl.Produce(context.Background(), &kgo.Record{Value: value, Timestamp: intended}, func(_ *kgo.Record, err error) {
			now := time.Now()
			lat := now.Sub(intended)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.failed++
				if res.firstErr == nil {
					res.firstErr = err
				}
				return
			}
			res.acked++
			if counted {
				res.latencies = append(res.latencies, lat)
				if interval > 0 {
					res.fromHandoff = append(res.fromHandoff, now.Sub(handoff))
				}
			}
		})
		res.sent++
	}
	if err := cl.Flush(context.Background()); err != nil {
		return nil, err
	}
	res.elapsed = time.Since(start)
	return res, nil
}

func (r *benchResult) report(o *benchOptions) {
	secs := r.elapsed.Seconds()
	fmt.Printf("topic %s: %d records of %d B, acks=%s, %s, in %.1fs: %d acknowledged, %d failed\n",
		o.topic, r.sent, o.recordBytes, o.acks, o.compression, secs, r.acked, r.failed)
	fmt.Printf("throughput: %.0f records/s, %.1f MB/s\n", float64(r.acked)/secs, float64(r.acked)*float64(o.recordBytes)/secs/1e6)
	if r.firstErr != nil {
		fmt.Printf("first error: %v\n", r.firstErr)
	}
	from := "the send call (no --rate: no schedule)"
	if o.rate > 0 {
		from = fmt.Sprintf("the intended send time at %.0f records/s", o.rate)
	}
	fmt.Printf("latency from %s, after a %v warmup: %s\n", from, o.warmup, percentiles(r.latencies))
	if o.rate > 0 {
		// A busy machine delays the bench's own sends; these two split the latency there.
		fmt.Printf("send lag (intended send time to the bench handing the record to its client): %s\n", percentiles(r.sendLags))
		fmt.Printf("latency from that hand-off: %s\n", percentiles(r.fromHandoff))
	}
}

// percentiles formats p50, p99, p99.9 and max of ds (sorting it).
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return fmt.Sprintf("p50 %v  p99 %v  p99.9 %v  max %v  (%d samples)",
		round(at(0.5)), round(at(0.99)), round(at(0.999)), round(ds[len(ds)-1]), len(ds))
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// checkLogCount compares the records the log gained with the acknowledged count.
func checkLogCount(r *benchResult, before, after map[topicPartition]int64) int {
	var grown int64
	for tp, end := range after {
		grown += end - before[tp]
	}
	switch {
	case grown == r.acked:
		fmt.Printf("log check: the log grew by %d records, exactly the acknowledged count\n", grown)
		return exitOK
	case r.failed > 0 && grown > r.acked && grown <= r.acked+r.failed:
		fmt.Printf("log check: the log grew by %d records: %d acknowledged plus %d of the %d failed (their outcome was unknown)\n", grown, r.acked, grown-r.acked, r.failed)
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "seedlog: bench: the log grew by %d records but %d were acknowledged (%d failed)\n", grown, r.acked, r.failed)
	return exitFailed
}

// benchConsumer reads the topic from where it ended before the run.
type benchConsumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	n    int64
	lats []time.Duration
	done chan struct{}
	stop context.CancelFunc
}

func startBenchConsumer(o *benchOptions, from map[topicPartition]int64) (*benchConsumer, error) {
	offsets := map[string]map[int32]kgo.Offset{o.topic: {}}
	for tp, off := range from {
		offsets[o.topic][tp.partition] = kgo.NewOffset().At(off)
	}
	cl, err := o.client.client(kgo.ConsumePartitions(offsets), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &benchConsumer{cl: cl, done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				c.n++
				c.lats = append(c.lats, now.Sub(r.Timestamp))
			})
			c.mu.Unlock()
		}
	}()
	return c, nil
}

// finish waits (a bounded time) for the consumer to catch up and reports.
func (c *benchConsumer) finish(want int64, o *benchOptions) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := c.n
		c.mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.stop()
	<-c.done
	fmt.Printf("consumer: %d records read; end-to-end latency (record timestamp, the intended send time in ms, to poll): %s\n", c.n, percentiles(c.lats))
}

// compressionOpt maps --compression to kgo's producer option.
func compressionOpt(name string) (kgo.Opt, error) {
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	c, ok := codecs[name]
	if !ok {
		return nil, fmt.Errorf("--compression: want none, gzip, snappy, lz4 or zstd, got %q", name)
	}
	return kgo.ProducerBatchCompression(c), nil
}
