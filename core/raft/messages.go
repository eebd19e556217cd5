package raft

import (
	"fmt"

	"github.com/seedlog/seedlog/core/enc"
)

// MessageBytesMax bounds an encoded message. A fetch response carries at most
// FetchBytesMax of batches beyond its first batch, and the first batch of the metadata log
// is small, so a well-behaved peer never comes close.
const MessageBytesMax = 64 << 20

// MsgKind is the first byte of an encoded message.
type MsgKind uint8

// The messages of the quorum protocol.
const (
	KindVoteRequest MsgKind = iota + 1
	KindVoteResponse
	KindBeginQuorumEpoch
	KindBeginQuorumEpochResponse
	KindFetch
	KindFetchResponse
	KindFetchSnapshot
	KindFetchSnapshotResponse
	KindEpochQuery
	KindEpochAnswer
	kindEnd
)

var kindNames = [...]string{"?", "vote", "vote-response", "begin-quorum-epoch",
	"begin-quorum-epoch-response", "fetch", "fetch-response", "fetch-snapshot",
	"fetch-snapshot-response", "epoch-query", "epoch-answer"}

func (k MsgKind) String() string {
	if k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Code is the outcome carried by a response.
type Code int8

// Response codes.
const (
	CodeNone Code = iota
	// CodeFencedEpoch: the request's epoch is older than the responder's; the response
	// carries the newer epoch and its leader so the requester catches up.
	CodeFencedEpoch
	// CodeNotLeader: the responder does not lead the epoch; Leader is its best hint.
	CodeNotLeader
	// CodeUnknownSnapshot: the leader no longer holds the snapshot asked for.
	CodeUnknownSnapshot
	codeEnd
)

var codeNames = [...]string{"none", "fenced-epoch", "not-leader", "unknown-snapshot"}

func (c Code) String() string {
	if c >= 0 && c < codeEnd {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int8(c))
}

// Message is one quorum message. The concrete types below are the only implementations.
type Message interface {
	Kind() MsgKind
	// AppendTo encodes the body (without the kind byte).
	AppendTo(w *enc.Writer)
}

// Envelope is a message addressed to a peer.
type Envelope struct {
	To  int32
	Msg Message
}

// VoteRequest asks for a vote in Epoch. A pre-vote (PreVote set) changes nothing on the
// receiver: it asks whether a real vote in Epoch would be granted.
type VoteRequest struct {
	Epoch       int32 // the epoch the candidate stands in (its epoch + 1 for a pre-vote)
	CandidateID int32
	LastEpoch   int32 // epoch of the candidate's last log entry
	EndOffset   int64 // the candidate's log end offset
	PreVote     bool
}

// VoteResponse answers a VoteRequest.
type VoteResponse struct {
	Epoch     int32 // the responder's epoch (after adopting the request's, for a real vote)
	Leader    int32 // the responder's leader in Epoch, -1 if unknown
	VoteEpoch int32 // the epoch of the request answered
	PreVote   bool
	Granted   bool
}

// BeginQuorumEpoch tells a voter that LeaderID won Epoch.
type BeginQuorumEpoch struct {
	Epoch    int32
	LeaderID int32
}

// BeginQuorumEpochResponse answers a BeginQuorumEpoch from a stale leader.
type BeginQuorumEpochResponse struct {
	Epoch  int32
	Leader int32
	Code   Code
}

// Fetch asks the leader for the log from FetchOffset. A voter sends it only once
// everything below FetchOffset is synced, so FetchOffset doubles as its durable offset.
type Fetch struct {
	Epoch            int32
	ReplicaID        int32
	FetchOffset      int64
	LastFetchedEpoch int32 // epoch of the entry at FetchOffset-1 in the fetcher's log
	// KnownHW is the last high watermark the fetcher heard from the leader; the leader
	// holds an idle fetch only if the fetcher already knows its current one.
	KnownHW int64
	// ReadRound echoes the highest read round the fetcher saw in a response of this
	// epoch's leader: the fetch was sent after that round began (see reads.go).
	ReadRound uint64
}

// EpochEnd is where an epoch ends in the leader's log.
type EpochEnd struct {
	Epoch     int32
	EndOffset int64
}

// SnapshotID names a snapshot by the offset after its last entry and that entry's epoch.
type SnapshotID struct {
	EndOffset int64
	Epoch     int32
}

// FetchResponse answers a Fetch. At most one of Diverging, Snapshot and Batches is set.
type FetchResponse struct {
	Epoch            int32
	Leader           int32
	Code             Code
	FetchOffset      int64 // echoed from the request
	LastFetchedEpoch int32 // echoed from the request
	HW               int64 // the leader's durable high watermark
	LogStartOffset   int64
	// Diverging: the fetcher's log does not match at FetchOffset; it truncates to
	// min(EndOffset, its own end of Epoch) and fetches again.
	Diverging *EpochEnd
	// Snapshot: FetchOffset is below the leader's log start; fetch this snapshot.
	Snapshot *SnapshotID
	// Batches are whole batches from FetchOffset.
	Batches []byte
	// ReadRound is the leader's current read round when it sent the response.
	ReadRound uint64
	// EndOffset is the responder's log end offset when it answered.
	EndOffset int64
}

// FetchSnapshot asks for the bytes of a snapshot from Position.
type FetchSnapshot struct {
	Epoch     int32
	ReplicaID int32
	Snapshot  SnapshotID
	Position  int64
}

// FetchSnapshotResponse carries one chunk of a snapshot.
type FetchSnapshotResponse struct {
	Epoch    int32
	Leader   int32
	Code     Code
	Snapshot SnapshotID
	Position int64 // of Chunk, echoed from the request
	Size     int64 // of the whole snapshot
	Chunk    []byte
}

// EpochQuery asks a voter for its epoch and leader. A member that restarted after losing
// data asks every voter, to find the leader and to learn above which epoch it may vote.
type EpochQuery struct {
	Epoch int32  // the asker's epoch: like any message, a higher one is adopted
	Nonce uint64 // echoed in the answer; new for each incarnation of the asker
}

// EpochAnswer answers an EpochQuery.
type EpochAnswer struct {
	Nonce  uint64
	Epoch  int32 // the responder's epoch
	Leader int32 // its leader in Epoch, -1 if unknown
}

func (*VoteRequest) Kind() MsgKind              { return KindVoteRequest }
func (*VoteResponse) Kind() MsgKind             { return KindVoteResponse }
func (*BeginQuorumEpoch) Kind() MsgKind         { return KindBeginQuorumEpoch }
func (*BeginQuorumEpochResponse) Kind() MsgKind { return KindBeginQuorumEpochResponse }
func (*Fetch) Kind() MsgKind                    { return KindFetch }
func (*FetchResponse) Kind() MsgKind            { return KindFetchResponse }
func (*FetchSnapshot) Kind() MsgKind            { return KindFetchSnapshot }
func (*FetchSnapshotResponse) Kind() MsgKind    { return KindFetchSnapshotResponse }
func (*EpochQuery) Kind() MsgKind               { return KindEpochQuery }
func (*EpochAnswer) Kind() MsgKind              { return KindEpochAnswer }

func (m *VoteRequest) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.CandidateID)
	w.I32(m.LastEpoch)
	w.I64(m.EndOffset)
	w.Bool(m.PreVote)
}

func (m *VoteResponse) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.Leader)
	w.I32(m.VoteEpoch)
	w.Bool(m.PreVote)
	w.Bool(m.Granted)
}

func (m *BeginQuorumEpoch) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.LeaderID)
}

func (m *BeginQuorumEpochResponse) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.Leader)
	w.U8(uint8(m.Code))
}

func (m *Fetch) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.ReplicaID)
	w.I64(m.FetchOffset)
	w.I32(m.LastFetchedEpoch)
	w.I64(m.KnownHW)
	w.U64(m.ReadRound)
}

func (m *FetchResponse) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.Leader)
	w.U8(uint8(m.Code))
	w.I64(m.FetchOffset)
	w.I32(m.LastFetchedEpoch)
	w.I64(m.HW)
	w.I64(m.LogStartOffset)
	w.Bool(m.Diverging != nil)
	if m.Diverging != nil {
		w.I32(m.Diverging.Epoch)
		w.I64(m.Diverging.EndOffset)
	}
	w.Bool(m.Snapshot != nil)
	if m.Snapshot != nil {
		appendSnapshotID(w, *m.Snapshot)
	}
	w.Bytes(m.Batches)
	w.U64(m.ReadRound)
	w.I64(m.EndOffset)
}

func (m *FetchSnapshot) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.ReplicaID)
	appendSnapshotID(w, m.Snapshot)
	w.I64(m.Position)
}

func (m *FetchSnapshotResponse) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.I32(m.Leader)
	w.U8(uint8(m.Code))
	appendSnapshotID(w, m.Snapshot)
	w.I64(m.Position)
	w.I64(m.Size)
	w.Bytes(m.Chunk)
}

func (m *EpochQuery) AppendTo(w *enc.Writer) {
	w.I32(m.Epoch)
	w.U64(m.Nonce)
}

func (m *EpochAnswer) AppendTo(w *enc.Writer) {
	w.U64(m.Nonce)
	w.I32(m.Epoch)
	w.I32(m.Leader)
}

func appendSnapshotID(w *enc.Writer, id SnapshotID) {
	w.I64(id.EndOffset)
	w.I32(id.Epoch)
}

// EncodeMessage appends the kind byte and the body of m.
func EncodeMessage(w *enc.Writer, m Message) {
	w.U8(uint8(m.Kind()))
	m.AppendTo(w)
}

// DecodeMessage decodes one whole message (kind byte and body) from r, which must hold
// nothing else. It never panics; byte fields alias the input.
func DecodeMessage(r *enc.Reader) (Message, error) {
	if len(r.B) > MessageBytesMax {
		return nil, fmt.Errorf("raft: message of %d bytes exceeds %d", len(r.B), MessageBytesMax)
	}
	kind := MsgKind(r.U8())
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("raft: message kind: %w", err)
	}
	m := decodeBody(kind, r)
	if m == nil {
		return nil, fmt.Errorf("raft: unknown message kind %d", uint8(kind))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("raft: decoding %s: %w", kind, err)
	}
	return m, nil
}

func decodeBody(kind MsgKind, r *enc.Reader) Message {
	switch kind {
	case KindVoteRequest:
		return &VoteRequest{Epoch: r.I32(), CandidateID: r.I32(), LastEpoch: r.I32(),
			EndOffset: r.I64(), PreVote: r.Bool()}
	case KindVoteResponse:
		return &VoteResponse{Epoch: r.I32(), Leader: r.I32(), VoteEpoch: r.I32(),
			PreVote: r.Bool(), Granted: r.Bool()}
	case KindBeginQuorumEpoch:
		return &BeginQuorumEpoch{Epoch: r.I32(), LeaderID: r.I32()}
	case KindBeginQuorumEpochResponse:
		return &BeginQuorumEpochResponse{Epoch: r.I32(), Leader: r.I32(), Code: readCode(r)}
	case KindFetch:
		return &Fetch{Epoch: r.I32(), ReplicaID: r.I32(), FetchOffset: r.I64(),
			LastFetchedEpoch: r.I32(), KnownHW: r.I64(), ReadRound: r.U64()}
	case KindFetchResponse:
		return decodeFetchResponse(r)
	case KindFetchSnapshot:
		return &FetchSnapshot{Epoch: r.I32(), ReplicaID: r.I32(), Snapshot: readSnapshotID(r),
			Position: r.I64()}
	case KindFetchSnapshotResponse:
		return &FetchSnapshotResponse{Epoch: r.I32(), Leader: r.I32(), Code: readCode(r),
			Snapshot: readSnapshotID(r), Position: r.I64(), Size: r.I64(), Chunk: readBytes(r)}
	case KindEpochQuery:
		return &EpochQuery{Epoch: r.I32(), Nonce: r.U64()}
	case KindEpochAnswer:
		return &EpochAnswer{Nonce: r.U64(), Epoch: r.I32(), Leader: r.I32()}
	}
	return nil
}

func decodeFetchResponse(r *enc.Reader) *FetchResponse {
	m := &FetchResponse{Epoch: r.I32(), Leader: r.I32(), Code: readCode(r),
		FetchOffset: r.I64(), LastFetchedEpoch: r.I32(), HW: r.I64(), LogStartOffset: r.I64()}
	if r.Bool() {
		m.Diverging = &EpochEnd{Epoch: r.I32(), EndOffset: r.I64()}
	}
	if r.Bool() {
		id := readSnapshotID(r)
		m.Snapshot = &id
	}
	m.Batches = readBytes(r)
	m.ReadRound = r.U64()
	m.EndOffset = r.I64()
	if r.Err() == nil && m.Diverging != nil && m.Snapshot != nil {
		r.Fail(fmt.Errorf("%w: fetch response both diverging and pointing at a snapshot", enc.ErrBad))
	}
	return m
}

func readSnapshotID(r *enc.Reader) SnapshotID {
	return SnapshotID{EndOffset: r.I64(), Epoch: r.I32()}
}

func readCode(r *enc.Reader) Code {
	c := Code(r.U8())
	if c < 0 || c >= codeEnd {
		r.Fail(fmt.Errorf("%w: response code %d", enc.ErrBad, uint8(c)))
		return CodeNone
	}
	return c
}

// readBytes reads a byte string, giving nil for an empty one so that a decoded message
// equals the one that was encoded whether it held nil or empty.
func readBytes(r *enc.Reader) []byte {
	b := r.Bytes()
	if len(b) == 0 {
		return nil
	}
	return b
}
