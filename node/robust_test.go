package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the Kafka framing by hand, to send what no client library would.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// frame wraps body in a size prefix.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// encode returns req framed as a client sends it.
func (r *rawConn) encode(req kmsg.Request) []byte {
	r.corr++
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("robust")).AppendRequest(nil, req, r.corr)
}

// roundTrip sends req and decodes the response into resp (version set from req).
func (r *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.write(r.encode(req))
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if req.Key() == 18 && req.GetVersion() > 4 {
		resp.SetVersion(0) // an unsupported ApiVersions is answered at v0
	}
	body := r.readFrame()
	corr, err := wire.ParseResponse(body, resp)
	if err != nil {
		r.t.Fatalf("%s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	if corr != r.corr {
		r.t.Fatalf("correlation id %d, want %d", corr, r.corr)
	}
	return resp
}

func (r *rawConn) readFrame() []byte {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(r.nc, size[:]); err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.nc, body); err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	return body
}

// expectClosed asserts that the broker closes the connection without answering.
func (r *rawConn) expectClosed(what string) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := r.nc.Read(make([]byte, 1))
	var ne net.Error
	switch {
	case n > 0:
		r.t.Errorf("%s: the broker answered instead of closing", what)
	case errors.As(err, &ne) && ne.Timeout():
		r.t.Errorf("%s: the connection is still open after 10s", what)
	}
}

// producer keeps producing and fetching through franz-go until stopped, and counts what
// succeeded.
type steadyClient struct {
	produced, fetched atomic.Int64
	errs              chan error
	stop              context.CancelFunc
	wg                sync.WaitGroup
}

func startSteadyClient(tc *testCluster, topic string) *steadyClient {
	s := &steadyClient{errs: make(chan error, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	prod := tc.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	cons := tc.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}))
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint(i))}).FirstErr()
			if err != nil && ctx.Err() == nil {
				s.errs <- fmt.Errorf("produce: %w", err)
				return
			}
			s.produced.Add(1)
		}
	}()
	go func() {
		defer s.wg.Done()
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			fs.EachError(func(_ string, _ int32, err error) {
				if ctx.Err() == nil {
					s.errs <- fmt.Errorf("fetch: %w", err)
				}
			})
			s.fetched.Add(int64(fs.NumRecords()))
		}
	}()
	return s
}

// progress waits until the steady client produced and fetched more than it had.
func (s *steadyClient) progress(t *testing.T, what string) {
	t.Helper()
	p0, f0 := s.produced.Load(), s.fetched.Load()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.errs:
			t.Fatalf("after %s: the other client failed: %v", what, err)
		default:
		}
		if s.produced.Load() > p0+5 && s.fetched.Load() > f0+5 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("after %s: the other client made no progress (produced %d, fetched %d)", what, s.produced.Load()-p0, s.fetched.Load()-f0)
}

// TestBadClientsDoNotDisturbOthers sends garbage, truncated and oversized frames,
// unknown keys and unsupported versions, each on its own connection, and checks that
// the broker answers with an error or closes that connection, while a franz-go client
// keeps producing and fetching on other connections throughout.
func TestBadClientsDoNotDisturbOthers(t *testing.T) {
	tc := startCluster(t, 1, 1, func(_ int, c *Config) {
		must(t, c.Set("socket.request.max.bytes", fmt.Sprint(4<<20)))
	})
	admin := tc.client()
	tc.createTopic(admin, "steady", 1, 1)
	steady := startSteadyClient(tc, "steady")
	defer func() { steady.stop(); steady.wg.Wait() }()
	steady.progress(t, "start")
	addr := tc.nodes[0].ClientAddr()

	closes := []struct {
		name  string
		bytes func(r *rawConn) []byte
	}{
		{"garbage body", func(*rawConn) []byte { return frame([]byte("\x00\x01\x02 this is not a kafka request at all")) }},
		{"short header", func(*rawConn) []byte { return frame([]byte{0, 18, 0}) }},
		{"negative size", func(*rawConn) []byte { return []byte{0xff, 0xff, 0xff, 0xfe, 1, 2, 3} }},
		{"oversized frame", func(*rawConn) []byte { return binary.BigEndian.AppendUint32(nil, 64<<20) }},
		{"unknown api key", func(r *rawConn) []byte {
			return frame(append(binary.BigEndian.AppendUint16(nil, 999), 0, 0, 0, 0, 0, 1, 0xff, 0xff))
		}},
		{"unsupported metadata version", func(r *rawConn) []byte {
			req := kmsg.NewPtrMetadataRequest()
			b := r.encode(req)
			binary.BigEndian.PutUint16(b[6:], 99)
			return b
		}},
		{"truncated produce body", func(r *rawConn) []byte {
			b := r.encode(produceRequest(t, "steady", 1))
			b = b[:len(b)-20]
			binary.BigEndian.PutUint32(b, uint32(len(b)-4))
			return b
		}},
		{"client id longer than the frame", func(*rawConn) []byte {
			return frame([]byte{0, 3, 0, 9, 0, 0, 0, 1, 0x7f, 0xff, 'x'})
		}},
		{"bad peer handshake", func(*rawConn) []byte {
			return append(binary.BigEndian.AppendUint32(nil, peerPreamble), 0, 0, 0, 3, 1, 2, 3)
		}},
	}
	for _, c := range closes {
		r := dialRaw(t, addr)
		r.write(c.bytes(r))
		r.expectClosed(c.name)
		steady.progress(t, c.name)
	}

	// A frame cut short by the client closing: nothing to answer, the broker must only
	// drop the connection.
	r := dialRaw(t, addr)
	r.write(binary.BigEndian.AppendUint32(nil, 1000))
	r.write([]byte("only a few bytes"))
	r.nc.(*net.TCPConn).CloseWrite()
	r.expectClosed("truncated frame")
	steady.progress(t, "truncated frame")

	// Answered with error codes, the connection staying usable.
	r = dialRaw(t, addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(99)
	if resp := r.roundTrip(av).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Errorf("ApiVersions v99: error %d with %d keys, want UNSUPPORTED_VERSION and the served ranges", resp.ErrorCode, len(resp.ApiKeys))
	}
	unknown := produceRequest(t, "no-such-topic", 1)
	if code := r.roundTrip(unknown).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("produce to an unknown topic: error %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
	}
	corrupt := produceRequest(t, "steady", 1)
	batch := corrupt.Topics[0].Partitions[0].Records
	batch[len(batch)-1] ^= 0xff // breaks the CRC
	if code := r.roundTrip(corrupt).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
		t.Errorf("produce of a corrupt batch: error %d, want CORRUPT_MESSAGE", code)
	}
	meta := kmsg.NewPtrMetadataRequest()
	if resp := r.roundTrip(meta).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 {
		t.Errorf("the connection is unusable after error answers: metadata lists %d brokers", len(resp.Brokers))
	}
	steady.progress(t, "error answers")
}

// produceRequest is an acks=1 produce of n small records to partition 0 of topic.
func produceRequest(t *testing.T, topic string, n int) *kmsg.ProduceRequest {
	t.Helper()
	var values [][]byte
	for i := range n {
		values = append(values, []byte(fmt.Sprint("raw-", i)))
	}
	batch, err := record.BuildValues(record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: time.Now().UnixMilli()}.NoProducer(), values...)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
