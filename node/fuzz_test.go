package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/peerauth"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzFrameMax keeps fuzzed frames small; the limit's own check is covered by seeds.
const fuzzFrameMax = 1 << 16

// FuzzClientFrames feeds arbitrary bytes to the connection reader, as a client would send
// them: frames are read one after the other until one fails. Nothing may panic, a
// decoded request must agree with its header, and a request without a body must be one
// the broker does not serve.
func FuzzClientFrames(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		br := bufio.NewReaderSize(r, 16)
		consumed := 0
		for {
			req, size, err := readRequest(br, 7, "L", fuzzFrameMax, nil, nil)
			consumed += size
			if read := len(data) - r.Len() - br.Buffered(); consumed != read {
				t.Fatalf("size %d accounts for %d bytes, %d were read", size, consumed, read)
			}
			if err != nil {
				if errors.Is(err, io.EOF) && size != 0 {
					t.Fatalf("a clean EOF after %d bytes of a frame", size)
				}
				return
			}
			if req.Conn != 7 || req.Listener != "L" {
				t.Fatalf("request on connection %d listener %q", req.Conn, req.Listener)
			}
			if req.Msg == nil {
				lo, hi, ok := kafka.Served.Range(req.Key)
				if ok && req.Version >= lo && req.Version <= hi {
					t.Fatalf("served %s v%d came without a body", kmsg.NameForKey(req.Key), req.Version)
				}
				continue
			}
			if req.Msg.Key() != req.Key || req.Msg.GetVersion() != req.Version {
				t.Fatalf("header says key %d v%d, body is key %d v%d", req.Key, req.Version, req.Msg.Key(), req.Msg.GetVersion())
			}
		}
	})
}

// FuzzParseRequest checks wire.ParseRequest on arbitrary frame bodies: what it decodes
// re-encodes into a frame that decodes to the same header.
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		if len(s) > 4 {
			f.Add(s[4:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, req, err := wire.ParseRequest(body, kafka.Served)
		if err != nil {
			if req != nil {
				t.Fatalf("error %v with a request", err)
			}
			return
		}
		id := h.ClientID
		again := kmsg.NewRequestFormatter(kmsg.FormatterClientID(id)).AppendRequest(nil, req, h.Corr)
		h2, req2, err := wire.ParseRequest(again[4:], kafka.Served)
		if err != nil {
			t.Fatalf("re-encoded %s v%d does not parse: %v", kmsg.NameForKey(h.Key), h.Version, err)
		}
		if h2 != h || req2.Key() != req.Key() {
			t.Fatalf("header %+v re-parsed as %+v", h, h2)
		}
	})
}

// FuzzPeerHandshake plays arbitrary bytes as the dialing side of a peer connection
// against a node's acceptor with a cluster secret. Nothing may panic, and nothing may
// pass: bytes written in advance cannot answer the acceptor's fresh challenge.
func FuzzPeerHandshake(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef-fuzz")
	s, _ := peerauth.NewSecret(secret)
	good := peerauth.Hello{Version: peerauth.Version, Node: 3, Cluster: "seedlog", Addr: "10.0.0.3:9093"}
	_, hello := peerauth.Dial(s, good)
	pre := binary.BigEndian.AppendUint32(nil, peerPreamble)
	f.Add(append(appendPeerFrame(bytes.Clone(pre), hello), appendPeerFrame(nil, make([]byte, peerauth.ProofBytes))...))
	f.Add(appendPeerFrame(bytes.Clone(pre), hello[:len(hello)-1]))
	f.Add([]byte("SDLP\x00\x00\x00\x09\x01\x00\x00\x00\x01\x00\x00\x00\x00"))
	n := &Node{cfg: DefaultConfig()}
	n.peerAuth.secret = s
	l := &boundListener{cfg: Listener{Name: "PEER", Protocol: protocolPlaintext, Peer: true}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := n.acceptPeer(l, &scriptConn{r: bytes.NewReader(data)}); err == nil {
			t.Fatalf("a scripted dialer passed the handshake: %x", data)
		}
	})
}

// scriptConn is a connection whose peer sends a fixed script and ignores what it gets.
type scriptConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)      { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)     { return len(p), nil }
func (c *scriptConn) SetDeadline(time.Time) error     { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error { return nil }
func (c *scriptConn) RemoteAddr() net.Addr            { return &net.TCPAddr{} }

// fuzzSeeds are whole client byte streams: well-formed requests as real clients send
// them, and the malformed shapes the robustness test sends.
func fuzzSeeds() [][]byte {
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	var out [][]byte
	add := func(req kmsg.Request, version int16) {
		req.SetVersion(version)
		out = append(out, fm.AppendRequest(nil, req, int32(len(out)+1)))
	}
	add(kmsg.NewPtrApiVersionsRequest(), 0)
	add(kmsg.NewPtrApiVersionsRequest(), 3)
	add(kmsg.NewPtrApiVersionsRequest(), 9)
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("t")
	meta.Topics = append(meta.Topics, mt)
	add(meta, 12)
	add(kmsg.NewPtrMetadataRequest(), 1)
	batch, _ := record.BuildValues(record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: 1}.NoProducer(), []byte("a"), []byte("b"))
	prod := kmsg.NewPtrProduceRequest()
	prod.Acks, prod.TimeoutMillis = -1, 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = batch
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	add(prod, 9)
	add(prod, 3)
	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	add(fetch, 11)
	add(kmsg.NewPtrJoinGroupRequest(), 5)
	// Two requests back to back, as a pipelining client sends them.
	out = append(out, append(bytes.Clone(out[0]), out[3]...))
	// Malformed: short header, unknown key, oversized and negative sizes, truncation.
	out = append(out, frame([]byte{0, 18, 0}))
	out = append(out, frame(append(binary.BigEndian.AppendUint16(nil, 999), 0, 0, 0, 0, 0, 1, 0xff, 0xff)))
	out = append(out, binary.BigEndian.AppendUint32(nil, 64<<20))
	out = append(out, []byte{0xff, 0xff, 0xff, 0xfe, 1})
	out = append(out, out[5][:len(out[5])-9])
	return out
}

// TestWriteFuzzCorpus rewrites the checked-in seed corpora from fuzzSeeds when
// SEEDLOG_WRITE_CORPUS is set; otherwise it checks that they are there.
func TestWriteFuzzCorpus(t *testing.T) {
	corpora := map[string][][]byte{"FuzzClientFrames": fuzzSeeds()}
	for _, s := range fuzzSeeds() {
		if len(s) > 4 {
			corpora["FuzzParseRequest"] = append(corpora["FuzzParseRequest"], s[4:])
		}
	}
	for name, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", name)
		if os.Getenv("SEEDLOG_WRITE_CORPUS") == "" {
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) < len(seeds) {
				t.Fatalf("seed corpus %s: %d files, %v; regenerate with SEEDLOG_WRITE_CORPUS=1", dir, len(entries), err)
			}
			continue
		}
		must(t, os.MkdirAll(dir, 0o755))
		for i, s := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644))
		}
		t.Logf("wrote %d seeds to %s at %v", len(seeds), dir, time.Now().Format(time.TimeOnly))
	}
}
