package core

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func heartbeatRequest() *kmsg.BrokerHeartbeatRequest {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.SetVersion(1)
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = 3, 17, 420
	return req
}

func heartbeatResponse() *kmsg.BrokerHeartbeatResponse {
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.SetVersion(1)
	resp.IsCaughtUp = true
	return resp
}

// peerSamples is one valid encoding of every kind of peer message.
func peerSamples() map[string][]byte {
	key := partition.Key{TopicID: [16]byte{7, 7}, Partition: 3}
	alter := kmsg.NewPtrAlterPartitionRequest()
	alter.SetVersion(2)
	alter.BrokerID, alter.BrokerEpoch = 2, 9
	create := kmsg.NewPtrCreateTopicsRequest()
	create.SetVersion(5)
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "orders", 3, 2
	create.Topics = append(create.Topics, ct)
	markers := markersRequest(txn.MarkerRequest{ProducerID: 7, ProducerEpoch: 1, Commit: true, CoordinatorEpoch: 3,
		Partitions: []txn.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 2}}}, []int{0, 1})
	markersAnswer := markers.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	markersAnswer.SetVersion(markers.GetVersion())
	markersAnswer.Markers = []kmsg.WriteTxnMarkersResponseMarker{{ProducerID: 7, Topics: []kmsg.WriteTxnMarkersResponseMarkerTopic{
		{Topic: "orders", Partitions: []kmsg.WriteTxnMarkersResponseMarkerTopicPartition{{Partition: 0}, {Partition: 2, ErrorCode: 6}}}}}}
	verify := verifyRequest("tx", 7, 1, txn.TopicPartition{Topic: "orders", Partition: 2})
	verifyAnswer := verify.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	verifyAnswer.SetVersion(verify.GetVersion())
	verifyAnswer.Transactions = []kmsg.AddPartitionsToTxnResponseTransaction{{TransactionalID: "tx",
		Topics: []kmsg.AddPartitionsToTxnResponseTransactionTopic{{Topic: "orders",
			Partitions: []kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{{Partition: 2, ErrorCode: kerr.TransactionAbortable.Code}}}}}}
	return map[string][]byte{
		"call-txn-verify":        EncodePeerCall(0xabc, 5, verify),
		"answer-txn-verify":      EncodePeerAnswer(5, verifyAnswer),
		"vote":                   EncodePeerQuorum(&raft.VoteRequest{Epoch: 3, CandidateID: 2, LastEpoch: 2, EndOffset: 41, PreVote: true}),
		"vote-response":          EncodePeerQuorum(&raft.VoteResponse{Epoch: 3, Leader: -1, VoteEpoch: 4, PreVote: true, Granted: true}),
		"begin-quorum-epoch":     EncodePeerQuorum(&raft.BeginQuorumEpoch{Epoch: 5, LeaderID: 3}),
		"begin-quorum-epoch-rsp": EncodePeerQuorum(&raft.BeginQuorumEpochResponse{Epoch: 6, Leader: 1, Code: raft.CodeFencedEpoch}),
		"quorum-fetch":           EncodePeerQuorum(&raft.Fetch{Epoch: 5, ReplicaID: 7, FetchOffset: 100, LastFetchedEpoch: 4, KnownHW: 90, ReadRound: 2}),
		"quorum-fetch-response": EncodePeerQuorum(&raft.FetchResponse{Epoch: 5, Leader: 3, FetchOffset: 100, LastFetchedEpoch: 4,
			HW: 99, LogStartOffset: 10, Batches: []byte("batches"), ReadRound: 1, EndOffset: 120}),
		"quorum-fetch-diverging": EncodePeerQuorum(&raft.FetchResponse{Epoch: 5, Leader: 3, FetchOffset: 7, LastFetchedEpoch: 2,
			Diverging: &raft.EpochEnd{Epoch: 2, EndOffset: 5}}),
		"quorum-fetch-snapshot-id": EncodePeerQuorum(&raft.FetchResponse{Epoch: 5, Leader: 3, Snapshot: &raft.SnapshotID{EndOffset: 50, Epoch: 4}}),
		"fetch-snapshot":           EncodePeerQuorum(&raft.FetchSnapshot{Epoch: 5, ReplicaID: 2, Snapshot: raft.SnapshotID{EndOffset: 50, Epoch: 4}, Position: 17}),
		"fetch-snapshot-response": EncodePeerQuorum(&raft.FetchSnapshotResponse{Epoch: 5, Leader: 3,
			Snapshot: raft.SnapshotID{EndOffset: 50, Epoch: 4}, Position: 17, Size: 40, Chunk: []byte("chunk")}),
		"epoch-query":  EncodePeerQuorum(&raft.EpochQuery{Epoch: 3, Nonce: 0xfeedface}),
		"epoch-answer": EncodePeerQuorum(&raft.EpochAnswer{Nonce: 0xfeedface, Epoch: 7, Leader: 2}),
		"replica-fetch": EncodePeerReplica(&partition.Fetch{Key: key, RequestID: 4, ReplicaID: 2, CurrentLeaderEpoch: 3,
			FetchOffset: 10, DurableOffset: 9, LastFetchedEpoch: 3, LogStartOffset: 1, MaxBytes: 1 << 20, MaxWaitMs: 500}),
		"replica-fetch-answer": EncodePeerReplica(&partition.FetchAnswer{Key: key, RequestID: 4, FetchOffset: 10, LeaderEpoch: 3,
			HighWatermark: 8, LogStartOffset: 1, LogEndOffset: 12, Records: []byte("records")}),
		"replica-epoch-query": EncodePeerReplica(&partition.EpochQuery{Key: key, RequestID: 5, ReplicaID: 2, CurrentLeaderEpoch: 3, LeaderEpoch: 2}),
		"replica-epoch-answer": EncodePeerReplica(&partition.EpochAnswer{Key: key, RequestID: 5, RequestedEpoch: 2,
			LeaderEpoch: 2, EndOffset: 6, LogStartOffset: 1}),
		"replica-synced":        EncodePeerReplica(&partition.Synced{Key: key, RequestID: 4, ReplicaID: 2, CurrentLeaderEpoch: 3, DurableOffset: 10}),
		"call-heartbeat":        EncodePeerCall(0xabc, 1, heartbeatRequest()),
		"call-alter-partition":  EncodePeerCall(0xabc, 2, alter),
		"call-create-topics":    EncodePeerCall(0xabc, 3, create),
		"call-txn-markers":      EncodePeerCall(0xabc, 4, markers),
		"answer-txn-markers":    EncodePeerAnswer(4, markersAnswer),
		"answer":                EncodePeerAnswer(1, heartbeatResponse()),
		"answer-not-controller": EncodePeerAnswerCode(2, kerr.NotController.Code, alter.Key(), 2),
		"barrier":               EncodePeerBarrier(8),
		"barrier-answer":        EncodePeerBarrierAnswer(8, 0, 1234),
	}
}

// Every kind decodes, and re-encodes to the very same bytes.
func TestPeerMessagesRoundTrip(t *testing.T) {
	for name, b := range peerSamples() {
		m, err := DecodePeer(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again := encodePeer(m); !bytes.Equal(again, b) {
			t.Fatalf("%s re-encodes differently:\n%x\n%x", name, again, b)
		}
	}
}

// A call's request and an answer's response arrive decoded.
func TestDecodePeerDecodesKafkaBodies(t *testing.T) {
	m, err := DecodePeer(EncodePeerCall(9, 1, heartbeatRequest()))
	if err != nil {
		t.Fatal(err)
	}
	req, ok := m.m.(callMsg).req.(*kmsg.BrokerHeartbeatRequest)
	if !ok || req.GetVersion() != 1 || req.BrokerEpoch != 17 || req.CurrentMetadataOffset != 420 {
		t.Fatalf("decoded call %+v", m.m)
	}
	m, err = DecodePeer(EncodePeerAnswer(1, heartbeatResponse()))
	if err != nil {
		t.Fatal(err)
	}
	a := m.m.(answerMsg)
	if resp, ok := a.resp.(*kmsg.BrokerHeartbeatResponse); !ok || !resp.IsCaughtUp || a.key != 63 || a.version != 1 {
		t.Fatalf("decoded answer %+v", a)
	}
}

// What the controller does not serve, at versions a key does not have, or bodies that do
// not decode, are refused before they reach the node.
func TestDecodePeerRefusesBadControllerTraffic(t *testing.T) {
	produce := kmsg.NewPtrProduceRequest()
	hb := heartbeatRequest()
	truncated := EncodePeerCall(1, 1, hb)
	body := hb.AppendTo(nil)
	truncated = append(truncated[:len(truncated)-len(body)-1], byte(len(body)-3))
	truncated = append(truncated, body[:len(body)-3]...)
	cases := map[string][]byte{
		"empty":                       nil,
		"unknown kind":                {99},
		"trailing byte":               append(EncodePeerBarrier(1), 0),
		"call of a key not served":    EncodePeerCall(1, 1, produce),
		"call of an unknown key":      encodeCall(callMsg{key: 999, version: 0}),
		"call above the key's max":    encodeCall(callMsg{key: hb.Key(), version: hb.MaxVersion() + 1, body: body}),
		"call at a negative version":  encodeCall(callMsg{key: hb.Key(), version: -1, body: body}),
		"call with a truncated body":  truncated,
		"answer of a key not served":  encodeAnswer(answerMsg{key: produce.Key(), body: []byte{0, 0}}),
		"answer with a bad body":      encodeAnswer(answerMsg{key: hb.Key(), version: 1, body: []byte{1}}),
		"not-controller with a body":  encodeAnswer(answerMsg{code: kerr.NotController.Code, key: hb.Key(), body: []byte{1}}),
		"replica message of bad kind": {peerReplica, 9},
	}
	for name, b := range cases {
		if m, err := DecodePeer(b); err == nil {
			t.Errorf("%s decodes: %+v", name, m)
		}
	}
}

// An answer is taken only for the call it names, with that call's key and version.
func TestAnswerMustMatchItsCall(t *testing.T) {
	n := &Node{}
	var got []kmsg.Response
	cl := &call{id: 4, req: heartbeatRequest(), reply: func(r kmsg.Response, err error) { got = append(got, r) }}
	n.rpc.pending = []*call{cl}
	decode := func(b []byte) answerMsg {
		m, err := DecodePeer(b)
		if err != nil {
			t.Fatal(err)
		}
		return m.m.(answerMsg)
	}
	other := kmsg.NewPtrAlterPartitionResponse()
	other.SetVersion(1)
	older := heartbeatResponse()
	older.SetVersion(0)
	for _, b := range [][]byte{EncodePeerAnswer(4, other), EncodePeerAnswer(4, older), EncodePeerAnswer(5, heartbeatResponse())} {
		n.rpc.answer(n, decode(b))
	}
	if len(got) != 0 || len(n.rpc.pending) != 1 {
		t.Fatalf("a mismatched answer was taken: %v", got)
	}
	n.rpc.answer(n, decode(EncodePeerAnswer(4, heartbeatResponse())))
	if len(got) != 1 || len(n.rpc.pending) != 0 {
		t.Fatalf("the matching answer was not taken: %v", got)
	}
}

// Peer still decodes and delivers, and notes what does not decode.
func TestPeerDecodesAndDelivers(t *testing.T) {
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.Start(1e9, disk.Recovered{})
	n.Drain()
	n.Peer(2e9, 2, []byte{peerCall, 1, 2})
	out := n.Drain()
	if len(out.Notes) != 1 || out.Notes[0].Kind != "peer-garbage" {
		t.Fatalf("notes %+v", out.Notes)
	}
	// A barrier to a controller that is not active is answered NOT_CONTROLLER.
	n.Peer(2e9, 2, EncodePeerBarrier(8))
	out = n.Drain()
	if len(out.Messages) != 1 || out.Messages[0].To != 2 {
		t.Fatalf("messages %+v", out.Messages)
	}
	m, err := DecodePeer(out.Messages[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m.m.(barrierAnswerMsg); !ok || a.id != 8 || a.code != kerr.NotController.Code {
		t.Fatalf("answer %+v", m.m)
	}
}

func FuzzDecodePeer(f *testing.F) {
	for _, b := range peerSamples() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodePeer(b)
		if err != nil {
			return
		}
		again := encodePeer(m)
		if bytes.Equal(again, b) {
			return
		}
		// The decoder takes a length written in more bytes than it needs; the canonical
		// encoding is then shorter and decodes to the same message.
		m2, err := DecodePeer(again)
		if err != nil || len(again) >= len(b) || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%x re-encodes as %x (%v)", b, again, err)
		}
	})
}

// WriteTxnMarkers travels as a call between brokers, and its answer decodes.
func TestDecodePeerCarriesTxnMarkers(t *testing.T) {
	req := markersRequest(txn.MarkerRequest{ProducerID: 7, ProducerEpoch: 2, Commit: true, CoordinatorEpoch: 4,
		Partitions: []txn.TopicPartition{{Topic: "a", Partition: 0}, {Topic: "a", Partition: 3}, {Topic: "b", Partition: 1}}}, []int{0, 1, 2})
	m, err := DecodePeer(EncodePeerCall(9, 1, req))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m.m.(callMsg).req.(*kmsg.WriteTxnMarkersRequest)
	if !ok || len(got.Markers) != 1 || got.Markers[0].ProducerID != 7 || !got.Markers[0].Committed ||
		len(got.Markers[0].Topics) != 2 || len(got.Markers[0].Topics[0].Partitions) != 2 {
		t.Fatalf("decoded call %+v", m.m)
	}
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	resp.SetVersion(req.GetVersion())
	mk := kmsg.NewWriteTxnMarkersResponseMarker()
	mk.ProducerID = 7
	rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
	rt.Topic = "b"
	rt.Partitions = []kmsg.WriteTxnMarkersResponseMarkerTopicPartition{{Partition: 1, ErrorCode: kerr.NotLeaderForPartition.Code}}
	mk.Topics = append(mk.Topics, rt)
	resp.Markers = append(resp.Markers, mk)
	m, err = DecodePeer(EncodePeerAnswer(1, resp))
	if err != nil {
		t.Fatal(err)
	}
	r := m.m.(answerMsg).resp.(*kmsg.WriteTxnMarkersResponse)
	if code := markerCode(r, nil, txn.TopicPartition{Topic: "b", Partition: 1}); code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("b/1 answered %d", code)
	}
	if code := markerCode(r, nil, txn.TopicPartition{Topic: "a", Partition: 0}); code != kerr.RequestTimedOut.Code {
		t.Fatalf("a partition the answer leaves out got %d, want REQUEST_TIMED_OUT", code)
	}
}

// A verification travels as a call between brokers at v4+; a client-style v3
// AddPartitionsToTxn is no call a peer may make. The answer's code reaches the produce
// as Kafka's ReplicaManager maps it.
func TestDecodePeerCarriesVerification(t *testing.T) {
	req := verifyRequest("tx", 7, 1, txn.TopicPartition{Topic: "orders", Partition: 2})
	m, err := DecodePeer(EncodePeerCall(9, 1, req))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m.m.(callMsg).req.(*kmsg.AddPartitionsToTxnRequest)
	if !ok || len(got.Transactions) != 1 || !got.Transactions[0].VerifyOnly || got.Transactions[0].ProducerID != 7 {
		t.Fatalf("decoded call %+v", m.m)
	}
	// An implicit add (transaction version 2) is the same call at v5, VerifyOnly false.
	add := verifyRequest("tx", 7, 1, txn.TopicPartition{Topic: "orders", Partition: 2})
	add.SetVersion(addCallVersion)
	add.Transactions[0].VerifyOnly = false
	m, err = DecodePeer(EncodePeerCall(9, 1, add))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.m.(callMsg).req.(*kmsg.AddPartitionsToTxnRequest); !ok || got.GetVersion() != 5 || got.Transactions[0].VerifyOnly {
		t.Fatalf("decoded add %+v", m.m)
	}
	// Markers of a version-2 end travel as WriteTxnMarkers v2 with the version.
	mr := markersRequest(txn.MarkerRequest{ProducerID: 7, ProducerEpoch: 2, TransactionVersion: 2,
		Partitions: []txn.TopicPartition{{Topic: "orders", Partition: 2}}}, []int{0})
	m, err = DecodePeer(EncodePeerCall(9, 1, mr))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.m.(callMsg).req.(*kmsg.WriteTxnMarkersRequest); !ok || got.GetVersion() != 2 || got.Markers[0].TransactionVersion != 2 {
		t.Fatalf("decoded markers %+v", m.m)
	}
	old := kmsg.NewPtrAddPartitionsToTxnRequest()
	old.SetVersion(3)
	old.TransactionalID = "tx"
	if _, err := DecodePeer(EncodePeerCall(9, 2, old)); err == nil {
		t.Fatal("a v3 AddPartitionsToTxn decoded as a peer call")
	}
	tp := txn.TopicPartition{Topic: "orders", Partition: 2}
	for _, c := range []struct {
		answer *kmsg.AddPartitionsToTxnResponse
		err    error
		want   int16
	}{
		{verifyResponse("tx", tp, 0), nil, 0},
		{verifyResponse("tx", tp, kerr.TransactionAbortable.Code), nil, kerr.InvalidTxnState.Code},
		{verifyResponse("tx", tp, kerr.ProducerFenced.Code), nil, kerr.InvalidProducerEpoch.Code},
		{verifyResponse("tx", tp, kerr.ConcurrentTransactions.Code), nil, kerr.NotEnoughReplicas.Code},
		{verifyResponse("other", tp, 0), nil, kerr.NotEnoughReplicas.Code}, // the partition left out
		{nil, errCallTimeout, kerr.NotEnoughReplicas.Code},
		{&kmsg.AddPartitionsToTxnResponse{ErrorCode: kerr.ClusterAuthorizationFailed.Code}, nil, kerr.InvalidTxnState.Code},
	} {
		if got := produceVerifyCode(verifyAnswerCode(c.answer, c.err, "tx", tp)); got != c.want {
			t.Errorf("answer %+v, %v: produce code %d, want %d", c.answer, c.err, got, c.want)
		}
	}
}

func verifyResponse(txnID string, tp txn.TopicPartition, code int16) *kmsg.AddPartitionsToTxnResponse {
	r := kmsg.NewPtrAddPartitionsToTxnResponse()
	r.SetVersion(verifyCallVersion)
	r.Transactions = []kmsg.AddPartitionsToTxnResponseTransaction{{TransactionalID: txnID,
		Topics: []kmsg.AddPartitionsToTxnResponseTransactionTopic{{Topic: tp.Topic,
			Partitions: []kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{{Partition: tp.Partition, ErrorCode: code}}}}}}
	return r
}
