package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/seedlog/seedlog/peerauth"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterState is what a stranger must not be able to change: each node's view of the
// controller quorum, and each partition's leader, leader epoch and ISR.
type clusterState struct {
	quorum     []string // per node: epoch and leader
	partitions []string
}

func (c *cluster) state(t *testing.T, topic string) clusterState {
	t.Helper()
	var s clusterState
	for _, p := range c.procs {
		m := scrape(p.metricsAddr)
		s.quorum = append(s.quorum, fmt.Sprintf("node %d: quorum epoch %v leader %v", p.id, m["seedlog_quorum_epoch"], m["seedlog_quorum_leader"]))
	}
	for _, p := range c.partitions(c.client(), topic) {
		isr := slices.Clone(p.ISR)
		slices.Sort(isr)
		s.partitions = append(s.partitions, fmt.Sprintf("%s/%d: leader %d epoch %d isr %v", topic, p.Partition, p.Leader, p.LeaderEpoch, isr))
	}
	return s
}

// strangerScript is what a stranger sends on one connection.
type strangerScript struct {
	name  string
	bytes []byte
}

// peerMessages are well-formed peer messages a stranger would like a node to act on:
// votes and leadership claims with the largest epoch, fetches in another node's name
// claiming everything, a snapshot request, and controller calls in another broker's name.
func peerMessages(t *testing.T, topicID [16]byte, voters []int32) map[string][]byte {
	other := voters[1]
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID, hb.BrokerEpoch, hb.WantShutdown, hb.WantFence = other, math.MaxInt64, true, true
	alter := kmsg.NewPtrAlterPartitionRequest()
	alter.BrokerID, alter.BrokerEpoch = other, math.MaxInt64
	at := kmsg.NewAlterPartitionRequestTopic()
	at.TopicID = topicID
	ap := kmsg.NewAlterPartitionRequestTopicPartition()
	ap.LeaderEpoch, ap.NewISR = math.MaxInt32, []int32{other}
	at.Partitions = append(at.Partitions, ap)
	alter.Topics = append(alter.Topics, at)
	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID, reg.ClusterID = other, "integration"
	reg.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: "PLAINTEXT", Host: "203.0.113.1", Port: 9092}}
	return map[string][]byte{
		"vote with epoch 2^31-1":   quorumPayload(&raft.VoteRequest{Epoch: math.MaxInt32, CandidateID: other, LastEpoch: math.MaxInt32, EndOffset: math.MaxInt64}),
		"leadership claim":         quorumPayload(&raft.BeginQuorumEpoch{Epoch: math.MaxInt32, LeaderID: other}),
		"quorum fetch in a name":   quorumPayload(&raft.Fetch{Epoch: math.MaxInt32, ReplicaID: other, FetchOffset: math.MaxInt64, LastFetchedEpoch: math.MaxInt32, KnownHW: math.MaxInt64}),
		"snapshot request":         quorumPayload(&raft.FetchSnapshot{Epoch: math.MaxInt32, ReplicaID: other, Snapshot: raft.SnapshotID{EndOffset: 1, Epoch: 1}}),
		"replica fetch in a name":  replicaPayload(&partition.Fetch{Key: partition.Key{TopicID: topicID}, ReplicaID: other, CurrentLeaderEpoch: 0, FetchOffset: math.MaxInt64 / 2, DurableOffset: math.MaxInt64 / 2, LastFetchedEpoch: 0}),
		"heartbeat asking a fence": callPayload(hb),
		"ISR shrink":               callPayload(alter),
		"registration takeover":    callPayload(reg),
		"controller call tag bomb": append(callHeader(hb), 0x0a, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0),
	}
}

// The core's peer framing (core/peer.go): a kind byte, then the message.
func quorumPayload(m raft.Message) []byte {
	return core.EncodePeerQuorum(m)
}

func replicaPayload(m partition.Message) []byte {
	return core.EncodePeerReplica(m)
}

func callPayload(req kmsg.Request) []byte {
	req.SetVersion(0)
	return core.EncodePeerCall(7, 1, req)
}

// callHeader is a call of req's key whose body the caller appends, length first.
func callHeader(req kmsg.Request) []byte {
	b := []byte{2}
	b = binary.BigEndian.AppendUint64(b, 7)
	b = binary.BigEndian.AppendUint64(b, 2)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, 0)
	return b
}

func frameOf(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// strangerScripts wraps each message in every way a stranger might try to get it read:
// the previous peer protocol's unauthenticated handshake, a current hello followed by a
// made-up proof, a hello and then frames without a proof, and bare frames.
func strangerScripts(claim int32, msgs map[string][]byte) []strangerScript {
	pre := binary.BigEndian.AppendUint32(nil, 0x53444C50)
	v1 := append([]byte{1}, binary.BigEndian.AppendUint32(nil, uint32(claim))...)
	v1 = append(binary.BigEndian.AppendUint16(v1, uint16(len("integration"))), "integration"...)
	v1 = binary.BigEndian.AppendUint16(v1, 0)
	var nonce [peerauth.NonceBytes]byte
	rand.Read(nonce[:])
	hello := peerauth.AppendHello(nil, peerauth.Hello{Version: peerauth.Version, Node: claim, Cluster: "integration", Addr: "203.0.113.9:9093", Nonce: nonce})
	madeUp := make([]byte, peerauth.ProofBytes)
	rand.Read(madeUp)
	var out []strangerScript
	for _, name := range sortedKeys(msgs) {
		m := msgs[name]
		tagged := append(bytes.Clone(m), make([]byte, peerauth.TagBytes)...)
		out = append(out,
			strangerScript{"v1 handshake, " + name, slices.Concat(pre, frameOf(v1), frameOf(m))},
			strangerScript{"hello and a made-up proof, " + name, slices.Concat(pre, frameOf(hello), frameOf(madeUp), frameOf(tagged))},
			strangerScript{"hello without a proof, " + name, slices.Concat(pre, frameOf(hello), frameOf(tagged))},
			strangerScript{"bare frame, " + name, frameOf(m)},
		)
	}
	return out
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// play sends a script on a new connection to addr and waits for the broker to close it.
// Whatever the broker writes before (a challenge) is read and dropped.
func play(t *testing.T, addr string, s strangerScript) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	nc.Write(s.bytes) // the broker may close before it read everything
	if _, err := io.Copy(io.Discard, nc); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Errorf("%s to %s: the connection stayed open: %v", s.name, addr, err)
	}
}

// TestStrangersCannotChangeTheCluster connects to every listener of three real brokers
// as a stranger (no secret) and sends each peer message type in every framing a
// stranger might try. Leaders, epochs, ISRs and acknowledged data must not change, and
// a franz-go producer must keep getting acknowledgements throughout.
func TestStrangersCannotChangeTheCluster(t *testing.T) {
	const topic = "guarded"
	c := newCluster(t, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, topic, 3, 3)
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	var topicID [16]byte
	for _, tp := range resp.Topics {
		if tp.Topic != nil && *tp.Topic == topic {
			topicID = tp.TopicID
		}
	}
	pr := startProducer(t, c, topic, 3)
	pr.waitAcked(t, 30*time.Second, 600, 0)
	c.eventually(30*time.Second, "a settled cluster", func() bool {
		before := c.state(t, topic)
		time.Sleep(time.Second)
		return fmt.Sprint(before) == fmt.Sprint(c.state(t, topic))
	})
	before := c.state(t, topic)

	for _, p := range c.procs {
		voters := []int32{int32(p.id), int32(p.id%3 + 1), int32((p.id+1)%3 + 1)}
		scripts := strangerScripts(voters[1], peerMessages(t, topicID, voters))
		for _, addr := range []string{p.peerAddr, p.clientAddr} {
			for _, s := range scripts {
				play(t, addr, s)
			}
			total, _ := pr.acks.counts()
			pr.waitAcked(t, 10*time.Second, total+100, 0)
		}
	}
	after := c.state(t, topic)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("the cluster changed:\nbefore %v\nafter  %v", before, after)
	}
	for _, p := range c.procs {
		m := scrape(p.metricsAddr)
		if m["seedlog_peer_auth_failures_total"] == 0 || m["seedlog_bad_frames_total"] == 0 {
			t.Errorf("broker %d counted %v peer authentication failures and %v bad client frames", p.id, m["seedlog_peer_auth_failures_total"], m["seedlog_bad_frames_total"])
		}
	}
	pr.finish(t)
	t.Logf("%d records acknowledged during the visits, %d failed", pr.acks.total, pr.acks.failed)
	for p := range int32(3) {
		checkPartition(t, p, readPartition(t, c.seeds(), topic, p), pr.acks.acked[p])
	}
}
