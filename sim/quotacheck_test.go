package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func produceOf(bytes int) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: make([]byte, bytes)}}}}
	return req
}

// The quota checker refuses a request answered inside the mute that a throttled answer
// started, accepts one answered after it and one that arrived before it, and bounds the
// bytes a client id produces within a window.
func TestQuotaCheck(t *testing.T) {
	ms := int64(time.Millisecond)
	newCheck := func() (*quotaCheck, *[]string) {
		var failures []string
		fail := func(checker string, node int32, format string, args ...any) {
			failures = append(failures, checker+": "+fmt.Sprintf(format, args...))
		}
		return newQuotaChecker(fail, func(string) {}, 1000, 1), &failures
	}
	at := func(now int64) quotaNode { return quotaNode{id: 1, inc: 1, now: now} }
	const conn = core.ConnID(7)

	// Request 1 is throttled for 100 ms; request 2 arrived before the answer, request 3
	// after it.
	mute := func(q *quotaCheck) {
		q.arrived(at(0), conn, 1, "c", produceOf(10), 0)
		q.arrived(at(0), conn, 2, "c", produceOf(10), 0)
		q.note(at(ms), "quota-throttled", fmt.Sprintf("connection %d muted 100 ms until %d by producer_byte_rate", conn, 101*ms))
		q.answered(at(ms), core.Response{Conn: conn, Corr: 1})
		q.arrived(at(2*ms), conn, 3, "c", produceOf(10), 0)
	}
	q, failures := newCheck()
	mute(q)
	q.answered(at(3*ms), core.Response{Conn: conn, Corr: 2})
	if len(*failures) != 0 {
		t.Fatalf("a request that arrived before the throttled answer: %v", *failures)
	}
	q.answered(at(50*ms), core.Response{Conn: conn, Corr: 3})
	if len(*failures) != 1 || !strings.Contains((*failures)[0], "before its mute ended") {
		t.Fatalf("a request answered inside the mute: %v", *failures)
	}
	q, failures = newCheck()
	mute(q)
	q.answered(at(101*ms), core.Response{Conn: conn, Corr: 3})
	if len(*failures) != 0 {
		t.Fatalf("a request answered once the mute ended: %v", *failures)
	}

	// Rate: 1000 B/s over 11 s allows 22000 bytes, plus what each connection had in flight.
	q, failures = newCheck()
	q.note(at(0), "quota-sensor", "producer_byte_rate {client-id=c}")
	corr := int32(0)
	produce := func(now int64, bytes int) {
		corr++
		q.arrived(at(now), conn, corr, "c", produceOf(bytes), 0)
		q.answered(at(now), core.Response{Conn: conn, Corr: corr})
	}
	for i := range 20 {
		produce(int64(i)*500*ms, 1000) // 20000 bytes in 10 s
	}
	if len(*failures) != 0 {
		t.Fatalf("within the rate: %v", *failures)
	}
	produce(10_500*ms, 3000) // 23000 bytes, slack 3000
	if len(*failures) != 0 {
		t.Fatalf("within the rate plus a request: %v", *failures)
	}
	produce(10_600*ms, 2100) // 25100 bytes, over 22000 + 3000
	if len(*failures) != 1 || !strings.Contains((*failures)[0], "more than its producer_byte_rate") {
		t.Fatalf("over the rate: %v", *failures)
	}
	// Another client id is measured apart, and not at all without its sensor's note.
	q, failures = newCheck()
	for i := range 50 {
		corr++
		q.arrived(at(int64(i)*ms), conn, corr, "other", produceOf(10_000), int64(time.Second))
		q.answered(at(int64(i)*ms), core.Response{Conn: conn, Corr: corr})
	}
	if len(*failures) != 0 {
		t.Fatalf("an unmeasured client id: %v", *failures)
	}

	// request_percentage 1: 0.01 thread-seconds a second, 0.22 over 11 s, plus what each
	// connection had in flight, once for each of the 12 times a bounded throttle lets it
	// through.
	q, failures = newCheck()
	q.note(at(0), "quota-sensor", "request_percentage {client-id=c}")
	meta := func(now int64, nanos int64) {
		corr++
		q.arrived(at(now), conn, corr, "c", kmsg.NewPtrMetadataRequest(), nanos)
		q.answered(at(now), core.Response{Conn: conn, Corr: corr, Msg: kmsg.NewPtrMetadataResponse()})
	}
	for i := range 20 {
		meta(int64(i)*500*ms, 10*ms) // 0.2 s in 10 s
	}
	if len(*failures) != 0 {
		t.Fatalf("within the request quota: %v", *failures)
	}
	meta(10_500*ms, 2*ms) // 0.202 s, slack 0.024
	if len(*failures) != 0 {
		t.Fatalf("within the request quota plus a request: %v", *failures)
	}
	meta(10_600*ms, 45*ms) // 0.247 s, over 0.22 + 12 * 0.045
	if len(*failures) != 0 {
		t.Fatalf("within the request quota plus 12 requests: %v", *failures)
	}
	for i := range 20 { // 0.8 s more: past 0.22 + 12 * 0.045
		meta(10_700*ms+int64(i)*ms, 40*ms)
	}
	if len(*failures) == 0 || !strings.Contains((*failures)[0], "more than its request_percentage") {
		t.Fatalf("over the request quota: %v", *failures)
	}
	// SASL requests and acks=0 produces count against no request quota.
	q, failures = newCheck()
	q.note(at(0), "quota-sensor", "request_percentage {client-id=c}")
	corr++
	q.arrived(at(0), conn, corr, "c", kmsg.NewPtrSASLAuthenticateRequest(), int64(time.Hour))
	q.answered(at(0), core.Response{Conn: conn, Corr: corr, Msg: kmsg.NewPtrSASLAuthenticateResponse()})
	corr++
	silent := produceOf(10)
	silent.Acks = 0
	q.arrived(at(0), conn, corr, "c", silent, int64(time.Hour))
	q.answered(at(0), core.Response{Conn: conn, Corr: corr})
	if len(*failures) != 0 {
		t.Fatalf("requests no request quota counts: %v", *failures)
	}
}
