package raft

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/seedlog/seedlog/core/enc"
)

func sampleMessages() []Message {
	return []Message{
		&VoteRequest{Epoch: 3, CandidateID: 2, LastEpoch: 2, EndOffset: 41, PreVote: true},
		&VoteRequest{Epoch: 1 << 30, CandidateID: 1, LastEpoch: 0, EndOffset: 0},
		&VoteResponse{Epoch: 3, Leader: -1, VoteEpoch: 4, PreVote: true, Granted: true},
		&VoteResponse{Epoch: 9, Leader: 2, VoteEpoch: 9},
		&BeginQuorumEpoch{Epoch: 5, LeaderID: 3},
		&BeginQuorumEpochResponse{Epoch: 6, Leader: 1, Code: CodeFencedEpoch},
		&Fetch{Epoch: 5, ReplicaID: 7, FetchOffset: 100, LastFetchedEpoch: 4, KnownHW: 90},
		&FetchResponse{Epoch: 5, Leader: 3, FetchOffset: 100, LastFetchedEpoch: 4, HW: 99, LogStartOffset: 10,
			Batches: []byte("not really batches"), EndOffset: 120},
		&FetchResponse{Epoch: 5, Leader: 3, Code: CodeNone, FetchOffset: 7, LastFetchedEpoch: 2,
			Diverging: &EpochEnd{Epoch: 2, EndOffset: 5}},
		&FetchResponse{Epoch: 5, Leader: 3, FetchOffset: 0, Snapshot: &SnapshotID{EndOffset: 50, Epoch: 4}},
		&FetchResponse{Epoch: 5, Leader: -1, Code: CodeNotLeader},
		&FetchSnapshot{Epoch: 5, ReplicaID: 2, Snapshot: SnapshotID{EndOffset: 50, Epoch: 4}, Position: 17},
		&FetchSnapshotResponse{Epoch: 5, Leader: 3, Snapshot: SnapshotID{EndOffset: 50, Epoch: 4}, Position: 17,
			Size: 40, Chunk: []byte("chunk")},
		&FetchSnapshotResponse{Epoch: 5, Leader: 3, Code: CodeUnknownSnapshot},
		&EpochQuery{Epoch: 3, Nonce: 0xfeedface12345},
		&EpochAnswer{Nonce: 0xfeedface12345, Epoch: 7, Leader: -1},
		&EpochAnswer{Nonce: 1, Epoch: 2, Leader: 3},
	}
}

func encode(m Message) []byte {
	w := enc.Writer{}
	EncodeMessage(&w, m)
	return w.B
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := encode(m)
		got, err := DecodeMessage(&enc.Reader{B: b})
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip of %T:\n got %+v\nwant %+v", m, got, m)
		}
		// Every strict prefix fails to decode; so does any trailing byte.
		for n := 0; n < len(b); n++ {
			if _, err := DecodeMessage(&enc.Reader{B: b[:n]}); err == nil {
				t.Fatalf("%T: a %d-byte prefix of %d decodes", m, n, len(b))
			}
		}
		if _, err := DecodeMessage(&enc.Reader{B: append(bytes.Clone(b), 0)}); err == nil {
			t.Fatalf("%T: a trailing byte decodes", m)
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":        {},
		"unknown kind": {200, 0, 0},
		"bad bool":     append(encode(&VoteRequest{})[:len(encode(&VoteRequest{}))-1], 2),
		"bad code":     {byte(KindBeginQuorumEpochResponse), 0, 0, 0, 1, 0, 0, 0, 1, 9},
		"huge length": func() []byte {
			b := encode(&FetchResponse{})
			return append(b[:len(b)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
		}(),
		"diverging and snapshot": func() []byte {
			return encode(&FetchResponse{Diverging: &EpochEnd{}, Snapshot: &SnapshotID{}})
		}(),
	}
	for name, b := range cases {
		if m, err := DecodeMessage(&enc.Reader{B: b}); err == nil {
			t.Errorf("%s: decoded %+v", name, m)
		}
	}
	if _, err := DecodeMessage(&enc.Reader{B: make([]byte, MessageBytesMax+1)}); err == nil {
		t.Errorf("an oversized message decodes")
	}
}

func TestQuorumStateAndSnapshotFiles(t *testing.T) {
	qs := quorumState{epoch: 7, votedFor: 3, hw: 1234, acked: 1240, recovering: true, recoverAcked: 1300, voteFloor: 6}
	got, seq, err := decodeQuorumState(encodeQuorumState(qs, 17))
	if err != nil || got != qs || seq != 17 {
		t.Fatalf("quorum state %+v (seq %d), %v", got, seq, err)
	}
	if l := loadQuorumState(nil, nil); !l.fresh || l.lost || l.qs != emptyQuorumState() {
		t.Fatalf("absent quorum state: %+v", l)
	}
	s := Snapshot{EndOffset: 99, Epoch: 4, Data: []byte("image")}
	gs, err := DecodeSnapshotFile(EncodeSnapshotFile(s))
	if err != nil || !reflect.DeepEqual(gs, s) {
		t.Fatalf("snapshot %+v, %v", gs, err)
	}
	for i := range EncodeSnapshotFile(s) {
		b := EncodeSnapshotFile(s)
		b[i] ^= 0x40
		if _, err := DecodeSnapshotFile(b); !errors.Is(err, ErrBadFile) {
			t.Fatalf("flipping byte %d: %v", i, err)
		}
	}
	for i := range encodeQuorumState(qs, 17) {
		b := encodeQuorumState(qs, 17)
		b[i] ^= 1
		if _, _, err := decodeQuorumState(b); !errors.Is(err, ErrBadFile) {
			t.Fatalf("flipping byte %d of the quorum state: %v", i, err)
		}
	}
}

func TestLeaderChangeRecord(t *testing.T) {
	lc, err := DecodeLeaderChange(leaderChangeValue(2, 9, []int32{1, 2, 3}))
	if err != nil || !reflect.DeepEqual(lc, LeaderChange{Leader: 2, Epoch: 9, Voters: []int32{1, 2, 3}}) {
		t.Fatalf("%+v, %v", lc, err)
	}
	if _, err := DecodeLeaderChange([]byte{1, 2}); err == nil {
		t.Fatal("garbage decodes")
	}
}

// FuzzDecodeMessage: decoding never panics, and whatever decodes re-encodes to bytes that
// decode to an equal message.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(encode(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(&enc.Reader{B: b})
		if err != nil {
			return
		}
		again, err := DecodeMessage(&enc.Reader{B: encode(m)})
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", m, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("re-encoding changed the message:\n%+v\n%+v", m, again)
		}
		if !bytes.Equal(encode(m), encode(again)) {
			t.Fatalf("encoding is not stable")
		}
	})
}
