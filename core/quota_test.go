package core

import (
	"fmt"
	"github.com/seedlog/seedlog/core/acl"
	"math"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The sampled rate follows Kafka's Rate: a fresh sensor spreads a burst over num-1
// windows, old samples expire, and the throttle time brings the rate back to the quota.
func TestRateSensor(t *testing.T) {
	const num, win = 11, int64(time.Second)
	s := &rateSensor{}
	t0 := int64(100 * time.Second)
	s.record(num, win, t0, 10_000)
	rate, span := s.measure(num, win, t0)
	if span != 10*win || rate != 1000 {
		t.Fatalf("fresh sensor: rate %v over %v, want 1000 over 10s", rate, time.Duration(span))
	}
	// Kafka: (observed - quota) / quota * window.
	if got := throttleMillis(rate, 500, span); got != 10_000 {
		t.Fatalf("throttle %d ms, want 10000", got)
	}
	if got := throttleMillis(rate, 1000, span); got != 0 {
		t.Fatalf("throttle at the quota: %d", got)
	}
	// 10.5 s later the span is the time elapsed.
	if _, span = s.measure(num, win, t0+int64(10500*time.Millisecond)); span != 10*win+win/2 {
		t.Fatalf("span after 10.5s: %v", time.Duration(span))
	}
	// A window later, samples keep adding up; after num windows they expire.
	s.record(num, win, t0+int64(1500*time.Millisecond), 5000)
	if len(s.samples) != 2 {
		t.Fatalf("%d samples, want 2", len(s.samples))
	}
	rate, _ = s.measure(num, win, t0+int64(2*time.Second))
	if rate != 15_000/10.0 {
		t.Fatalf("rate %v, want 1500", rate)
	}
	// The first sample expires: what is left spans from the second one's start.
	rate, _ = s.measure(num, win, t0+int64(12*time.Second))
	if math.Abs(rate-5000/10.5) > 1e-9 {
		t.Fatalf("after the first sample expired: rate %v, want 5000/10.5", rate)
	}
	rate, _ = s.measure(num, win, t0+int64(13*time.Second))
	if rate != 0 {
		t.Fatalf("after every sample expired: rate %v", rate)
	}
	// The ring reuses its oldest sample once it is full.
	s = &rateSensor{}
	for i := range 30 {
		s.record(num, win, t0+int64(i)*win, 1)
	}
	if len(s.samples) != num {
		t.Fatalf("%d samples, want %d", len(s.samples), num)
	}
}

// Quotas resolve in Kafka's order, and the sensor a request counts against carries the
// matched entity's types with the request's names.
func TestResolveQuotaOrder(t *testing.T) {
	u, c := "alice", "app"
	order := []metadata.QuotaEntity{
		{HasUser: true, User: u, HasClientID: true, ClientID: c},
		{HasUser: true, User: u, HasClientID: true},
		{HasUser: true, User: u},
		{HasUser: true, HasClientID: true, ClientID: c},
		{HasUser: true, HasClientID: true},
		{HasUser: true},
		{HasClientID: true, ClientID: c},
		{HasClientID: true},
	}
	var im metadata.Image
	apply := func(r metadata.Record) {
		t.Helper()
		next, err := im.Apply(im.Offset()+1, r)
		if err != nil {
			t.Fatal(err)
		}
		im = next
	}
	// Unrelated entities never match.
	apply(metadata.ClientQuota{Entity: metadata.QuotaEntity{HasUser: true, User: "bob"}, Key: metadata.QuotaProducerByteRate, Value: 1})
	apply(metadata.ClientQuota{Entity: metadata.QuotaEntity{HasClientID: true, ClientID: "other"}, Key: metadata.QuotaProducerByteRate, Value: 1})
	// A consumer quota does not answer for produce.
	apply(metadata.ClientQuota{Entity: order[0], Key: metadata.QuotaConsumerByteRate, Value: 1})
	if _, _, ok := resolveQuota(im, quotaProduce, u, c); ok {
		t.Fatal("a quota matched with none set for alice/app")
	}
	// Set from the last to the first: each new one takes over.
	for i := len(order) - 1; i >= 0; i-- {
		apply(metadata.ClientQuota{Entity: order[i], Key: metadata.QuotaProducerByteRate, Value: float64(100 + i)})
		q, key, ok := resolveQuota(im, quotaProduce, u, c)
		if !ok || q != float64(100+i) {
			t.Fatalf("with entities %d.. set: quota %v %v, want %d", i, q, ok, 100+i)
		}
		e := order[i]
		want := metadata.QuotaEntity{HasUser: e.HasUser, HasClientID: e.HasClientID}
		if e.HasUser {
			want.User = u
		}
		if e.HasClientID {
			want.ClientID = c
		}
		if key.entity != want || key.kind != quotaProduce {
			t.Fatalf("entity %s: sensor %+v, want %+v", e, key, want)
		}
	}
	if q, _, _ := resolveQuota(im, quotaFetch, u, c); q != 1 {
		t.Fatalf("consumer quota %v", q)
	}
}

func (l *lone) produce(conn ConnID, clientID, topic string, size int) (corr int32) {
	l.corr++
	batch, err := record.BuildValues(record.Spec{FirstTimestamp: 1}.NoProducer(), make([]byte, size))
	if err != nil {
		l.t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}
	req.Topics = append(req.Topics, rt)
	l.n.Request(l.now, Request{Conn: conn, Corr: l.corr, Key: 0, Version: 9, ClientID: clientID, Listener: "PLAINTEXT", Msg: req})
	return l.corr
}

func (l *lone) setQuota(clientID string, key string, v float64) {
	req := kmsg.NewPtrAlterClientQuotasRequest()
	en := kmsg.NewAlterClientQuotasRequestEntry()
	en.Entity = []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "client-id", Name: &clientID}}
	en.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: key, Value: v}}
	req.Entries = append(req.Entries, en)
	if r, _ := l.ask(99, "PLAINTEXT", req).(*kmsg.AlterClientQuotasResponse); r == nil || r.Entries[0].ErrorCode != 0 {
		l.t.Fatalf("AlterClientQuotas: %+v", r)
	}
}

// A produce over its quota is answered at once with Kafka's throttle time, and the
// connection is muted: a request that arrives meanwhile is handled only once the mute
// ended, while other connections go on.
func TestQuotaMutesConnection(t *testing.T) {
	l := newLone(t, Config{})
	if code := l.createTopic(98, "PLAINTEXT", "q"); code != 0 {
		t.Fatalf("CreateTopics: %d", code)
	}
	l.setQuota("slow", metadata.QuotaProducerByteRate, 1000)
	// 20 KB on a fresh sensor: 2000 B/s over 10 windows, 10 s of throttle.
	l.produce(1, "slow", "q", 20_000)
	l.run(50 * time.Millisecond)
	first, _ := l.resps[1][0].(*kmsg.ProduceResponse)
	if first == nil || first.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("first produce: %+v", l.resps[1])
	}
	if th := first.ThrottleMillis; th < 9_900 || th > 10_100 {
		t.Fatalf("throttle %d ms, want about 10000", th)
	}
	mutedAt := l.now
	l.produce(1, "slow", "q", 10)
	l.produce(2, "fast", "q", 10) // another connection and client id: no quota
	l.run(time.Second)
	if len(l.resps[1]) != 1 {
		t.Fatal("a muted connection's request was handled")
	}
	if len(l.resps[2]) != 1 {
		t.Fatal("an unthrottled connection waited")
	}
	l.run(10 * time.Second)
	if len(l.resps[1]) != 2 {
		t.Fatal("the held request was not handled after the mute")
	}
	if l.now-mutedAt < int64(9900*time.Millisecond) {
		t.Fatal("handled too early")
	}
}

// A fetch asks for at most the consumer quota over the window, and one over the quota is
// answered without its records, which are not counted (Kafka's unrecord).
func TestQuotaFetch(t *testing.T) {
	l := newLone(t, Config{})
	l.setQuota("reader", metadata.QuotaConsumerByteRate, 1000)
	m := kmsg.NewPtrFetchRequest()
	m.Version, m.MaxBytes = 12, 1<<20
	var got kmsg.Response
	reply := l.n.quotaReply(Request{Conn: 5, ClientID: "reader", Msg: m}, func(r kmsg.Response) { got = r })
	if m.MaxBytes != 10_000 {
		t.Fatalf("fetch max bytes %d, want the quota over 10 windows", m.MaxBytes)
	}
	reply(fetchAnswer("t", 20_000))
	r := got.(*kafka.FetchAnswer)
	if r.ThrottleMillis < 9_900 || r.RecordBytes() != 0 {
		t.Fatalf("throttle %d ms, %d record bytes", r.ThrottleMillis, r.RecordBytes())
	}
	reply(fetchAnswer("t", 5_000))
	if r := got.(*kafka.FetchAnswer); r.ThrottleMillis != 0 || r.RecordBytes() != 5_000 {
		t.Fatalf("after a throttled fetch that was not counted: throttle %d ms", r.ThrottleMillis)
	}
	// Another client id has no quota: its reply is not wrapped.
	m2 := kmsg.NewPtrFetchRequest()
	m2.Version, m2.MaxBytes = 12, 1<<20
	l.n.quotaReply(Request{Conn: 6, ClientID: "other", Msg: m2}, func(kmsg.Response) {})
	if m2.MaxBytes != 1<<20 {
		t.Fatal("a fetch without a quota was limited")
	}
}

// Under a default client-id quota every client id has a sensor of its own, and client
// ids are the client's to make up: past quotaSensorsMax, new ones share one sensor (and
// its throttle) instead of growing the node's memory.
func TestQuotaSensorsAreBounded(t *testing.T) {
	l := newLone(t, Config{})
	req := kmsg.NewPtrAlterClientQuotasRequest()
	en := kmsg.NewAlterClientQuotasRequestEntry()
	en.Entity = []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "client-id"}} // the default
	en.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: metadata.QuotaProducerByteRate, Value: 1000}}
	req.Entries = append(req.Entries, en)
	if r, _ := l.ask(99, "PLAINTEXT", req).(*kmsg.AlterClientQuotasResponse); r == nil || r.Entries[0].ErrorCode != 0 {
		t.Fatalf("AlterClientQuotas: %+v", r)
	}
	for i := range quotaSensorsMax + 500 {
		if th := l.n.quotaCheck(quotaProduce, acl.Anonymous, fmt.Sprintf("made-up-%d", i), 100); th != 0 && i < quotaSensorsMax {
			t.Fatalf("client id %d, alone on its sensor, throttled %d ms", i, th)
		}
	}
	if n := len(l.n.quotas.sensors); n != quotaSensorsMax+1 {
		t.Fatalf("%d sensors, want %d and one shared", n, quotaSensorsMax)
	}
	// The 500 beyond the bound share one sensor: 50 KB on it is far over 1000 B/s.
	if th := l.n.quotaCheck(quotaProduce, acl.Anonymous, "one-more", 100); th == 0 {
		t.Fatal("the shared sensor does not throttle")
	}
}

// request_percentage counts the thread time the shell reports with each request, in
// percent of one thread: a client over it gets Kafka's throttle, bounded by one window,
// on any response that has the field, and its connection is muted like a byte quota's.
func TestRequestQuota(t *testing.T) {
	l := newLone(t, Config{})
	if code := l.createTopic(98, "PLAINTEXT", "q"); code != 0 {
		t.Fatalf("CreateTopics: %d", code)
	}
	l.setQuota("busy", metadata.QuotaRequestPercentage, 1) // 10 ms of thread time a second
	meta := func(conn ConnID, clientID string, threadNanos int64) {
		l.corr++
		m := kmsg.NewPtrMetadataRequest()
		m.Version = 12
		l.n.Request(l.now, Request{Conn: conn, Corr: l.corr, Key: 3, Version: 12, ClientID: clientID, Listener: "PLAINTEXT",
			ThreadNanos: threadNanos, Msg: m})
	}
	// 50 ms of thread time on a fresh sensor: 0.5 % over 10 windows, under the quota.
	meta(1, "busy", int64(50*time.Millisecond))
	l.run(10 * time.Millisecond)
	if r := l.resps[1][0].(*kmsg.MetadataResponse); r.ThrottleMillis != 0 {
		t.Fatalf("under the quota: throttle %d ms", r.ThrottleMillis)
	}
	// 150 ms more: 2 % against 1 %, Kafka's throttle would be 10 s; it is bounded to one
	// window (1 s).
	meta(1, "busy", int64(150*time.Millisecond))
	l.run(10 * time.Millisecond)
	if r := l.resps[1][1].(*kmsg.MetadataResponse); r.ThrottleMillis != 1000 {
		t.Fatalf("over the quota: throttle %d ms, want 1000 (one window)", r.ThrottleMillis)
	}
	meta(1, "busy", 0)
	meta(2, "idle", int64(time.Second)) // no quota for this client id
	l.run(500 * time.Millisecond)
	if len(l.resps[1]) != 2 || len(l.resps[2]) != 1 {
		t.Fatalf("muted connection answered %d, other %d; want 2 and 1", len(l.resps[1]), len(l.resps[2]))
	}
	l.run(time.Second)
	if len(l.resps[1]) != 3 {
		t.Fatal("the held request was not handled after the mute")
	}

	// A fetch it throttles goes without its records, which its consumer quota then does
	// not count, and the larger of the two throttles is the one sent.
	l.setQuota("busy", metadata.QuotaConsumerByteRate, 1000)
	m := kmsg.NewPtrFetchRequest()
	m.Version, m.MaxBytes = 12, 1<<20
	var got kmsg.Response
	l.n.ctx = reqCtx{principal: acl.Anonymous}
	req := Request{Conn: 5, ClientID: "busy", Msg: m, ThreadNanos: int64(time.Second)}
	reply := l.n.requestQuotaReply(req, func(r kmsg.Response) { got = r })
	reply = l.n.quotaReply(req, reply)
	reply(fetchAnswer("q", 500))
	if f := got.(*kafka.FetchAnswer); f.ThrottleMillis != 1000 || f.RecordBytes() != 0 {
		t.Fatalf("fetch over the request quota: throttle %d ms, %d record bytes", f.ThrottleMillis, f.RecordBytes())
	}
	if s, _ := l.n.quotaSensor(quotaFetch, acl.Anonymous, "busy"); s == nil || s.samples[s.current].value != 0 {
		t.Fatal("the dropped records still count against the consumer quota")
	}
}

// fetchAnswer is a Fetch answer of one partition of topic with bytes of records, in a
// file span (a quota counts spans, not what they point into).
func fetchAnswer(topic string, bytes int) *kafka.FetchAnswer {
	r := kmsg.NewPtrFetchResponse()
	r.Topics = []kmsg.FetchResponseTopic{{Topic: topic, Partitions: []kmsg.FetchResponseTopicPartition{{RecordBatches: []byte{}}}}}
	return &kafka.FetchAnswer{FetchResponse: r, Records: [][]disk.Span{{{File: 1, Len: int64(bytes)}}}}
}
