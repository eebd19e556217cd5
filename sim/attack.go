package sim

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/peerauth"
	"github.com/seedlog/seedlog/traces"
)

// The byzantine client (FaultConfig.Byzantine) is an attacker outside the cluster that,
// from the start of the run to its end (safety phase, liveness phase and final reads
// alike), sends forged and malformed traffic to the nodes' listeners:
//
//   - to a node's client listener, on connections of its own (client 0, address
//     clientAddrBase): the old peer preamble and handshake, raw peer messages, Kafka
//     requests whose tagged-field counts are 0xffffffff, truncated and random frames,
//     controller calls and follower fetches in a broker's name. They go through the
//     same framing and wire.ParseRequest as every client request; the node must answer
//     with an error or close the connection (attackConn checks what must not be
//     answered), and nothing else may change;
//   - to a node's peer endpoint, injected into the connection of a pair (claimed sender,
//     target) as an attacker on the path would: messages unsealed, under a made-up tag,
//     sealed under a key of its own, frames captured from another pair or an earlier
//     incarnation, captured frames with flipped bytes; and forged handshakes (a Hello in a
//     node's name followed by a made-up or reflected proof), fed to peerauth.Accept and
//     Acceptor.Finish. None may get through: authentication refuses them all.
//
// The attacker is omniscient: it reads the cluster's state through the checkers'
// inspection hooks and sees every datagram, so its messages are well-formed and aimed
// (see hostile): votes and BeginQuorumEpoch at epoch 2^31-1 or just above the current
// one, forged votes for candidates, quorum and partition fetches in a follower's name
// claiming the leader's whole log as fetched and durable, snapshot fetches, heartbeats,
// ISR changes and registrations in another broker's name. Every answer carrying records
// that a partition or quorum leader sends a follower is, with AimPPM, followed by a
// fetch in that follower's name claiming exactly what the answer carried as fetched
// and durable: what a leader that credits a follower with at most what it sent it still
// takes, before the follower holds it. With authentication skipped (the plant
// peer-auth-skipped), these fetches make leaders acknowledge writes their followers do
// not hold.

// attackerID is the byzantine client's client id; its address is clientAddrBase.
const attackerID = 0

// Bounds of the attacker's state.
const (
	attackCapturedMax      = 64   // captured sealed frames kept for replays
	attackCapturedBytesMax = 4096 // larger frames are not kept (they hold records alive)
	attackConnsMax         = 8    // client connections open at once
)

// listeners the attacker targets, for traces (Event.B of a FaultAttack).
const (
	attackClientListener = 1
	attackPeerListener   = 2
	attackHandshake      = 3
)

// attacker is the byzantine client.
type attacker struct {
	w      *World
	rng    *rand.Rand
	cfg    FaultConfig
	client *Client
	// captured holds sealed frames seen on the network, oldest overwritten first.
	captured [attackCapturedMax]capture
	nCapture int
	// stranger seals with a key from a handshake under a secret of the attacker's own.
	stranger *peerauth.Sealer
	conns    int
	nextID   uint64
	// markersTurn alternates the client-listener controller calls of a seed with
	// transactions between a controller's request and WriteTxnMarkers.
	markersTurn bool
}

// capture is a sealed frame the attacker saw on its way from one node to another.
type capture struct {
	from, to int32
	serial   uint64
	frame    []byte
}

func newAttacker(w *World) *attacker {
	a := &attacker{w: w, rng: Stream(w.cfg.Seed, streamAttack, 1), cfg: w.cfg.Faults}
	a.client = &Client{w: w, id: attackerID, addr: netsim.Addr(clientAddrBase + attackerID)}
	key := make([]byte, peerauth.SecretBytesMin)
	fillRandom(a.rng, key)
	secret, err := peerauth.NewSecret(key)
	if err != nil {
		panic(err)
	}
	var dn, an [peerauth.NonceBytes]byte
	fillRandom(a.rng, dn[:])
	fillRandom(a.rng, an[:])
	d, hello := peerauth.Dial(secret, peerauth.Hello{Node: 1, Cluster: simClusterID, Nonce: dn})
	acc, ch, err := peerauth.Accept(secret, hello, 2, an)
	if err != nil {
		panic(err)
	}
	proof, k, err := d.Finish(ch, 2)
	if err != nil {
		panic(err)
	}
	if _, err := acc.Finish(proof); err != nil {
		panic(err)
	}
	a.stranger = peerauth.NewSealer(k)
	return a
}

// start plans the first attack.
func (a *attacker) start() { a.next() }

func (a *attacker) next() {
	d := time.Duration(a.rng.ExpFloat64() * float64(a.cfg.AttackInterval))
	a.w.schedule(a.w.now+int64(d), evAttack)
}

// act makes one attack and plans the next. It goes on until the run ends.
func (a *attacker) act() {
	a.next()
	a.w.cov.Inc("fault:byzantine")
	switch r := a.rng.IntN(10); {
	case r < 4:
		a.attackClient()
	case r < 9:
		a.attackPeer()
	default:
		a.forgeHandshake()
	}
}

// upNodes lists the nodes that are up (paused ones too: their network stack works).
func (a *attacker) upNodes() []*simNode {
	var out []*simNode
	for _, n := range a.w.nodes {
		if n.up {
			out = append(out, n)
		}
	}
	return out
}

// otherNode picks a node id other than not, or -1 in a one-node cluster.
func (a *attacker) otherNode(not int32) int32 {
	n := len(a.w.nodes)
	if n < 2 {
		return -1
	}
	id := int32(1 + a.rng.IntN(n-1))
	if id >= not {
		id++
	}
	return id
}

// record traces one attack: the target node, the claimed sender (-1 for none), the
// listener and the bytes.
func (a *attacker) record(target, claimed int32, listener int64, kind string, b []byte) {
	a.w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultAttack, Node: target, Peer: claimed, A: int64(len(b)), B: listener, Hash: xxhash.Sum64(b)},
		func() string {
			to := map[int64]string{attackClientListener: "client listener", attackPeerListener: "peer endpoint", attackHandshake: "peer listener"}[listener]
			if claimed >= 0 {
				return fmt.Sprintf("attacker -> node %d %s as node %d: %s, %d bytes", target, to, claimed, kind, len(b))
			}
			return fmt.Sprintf("attacker -> node %d %s: %s, %d bytes", target, to, kind, len(b))
		})
	a.w.cov.Inc("attack:kind:" + kind)
}

// ---- the peer endpoint ----

// observe sees a sealed datagram leave node from for node to: it keeps it for replays,
// and answers a partition leader's fetch answer (or a quorum leader's fetch response)
// that carries records with a fetch in the follower's name claiming them, with AimPPM.
func (a *attacker) observe(from, to int32, payload, frame []byte, serial uint64) {
	if len(frame) <= attackCapturedBytesMax {
		a.captured[a.nCapture%attackCapturedMax] = capture{from: from, to: to, serial: serial, frame: frame}
		a.nCapture++
	}
	if a.cfg.AimPPM <= 0 || len(payload) < 2 {
		return
	}
	var forged []byte
	switch payload[0] {
	case peerKindReplica:
		if partition.MsgKind(payload[1]) != partition.KindFetchAnswer {
			return
		}
		m, err := partition.Decode(payload[1:])
		if err != nil {
			return
		}
		ans := m.(*partition.FetchAnswer)
		end, epoch, ok := batchesEnd(ans.Records)
		if ans.Err != 0 || ans.Diverging || !ok || a.rng.Int64N(1_000_000) >= a.cfg.AimPPM {
			return
		}
		forged = core.EncodePeerReplica(&partition.Fetch{Key: ans.Key, RequestID: a.rng.Uint64(), ReplicaID: to,
			CurrentLeaderEpoch: ans.LeaderEpoch, FetchOffset: end, DurableOffset: end, LastFetchedEpoch: epoch,
			LogStartOffset: ans.LogStartOffset, MaxBytes: 1 << 20})
	case peerKindQuorum:
		if raft.MsgKind(payload[1]) != raft.KindFetchResponse {
			return
		}
		r := enc.Reader{B: payload[1:]}
		m, err := raft.DecodeMessage(&r)
		if err != nil {
			return
		}
		resp := m.(*raft.FetchResponse)
		end, epoch, ok := batchesEnd(resp.Batches)
		if resp.Code != raft.CodeNone || !ok || a.rng.Int64N(1_000_000) >= a.cfg.AimPPM {
			return
		}
		forged = core.EncodePeerQuorum(&raft.Fetch{Epoch: resp.Epoch, ReplicaID: to, FetchOffset: end, LastFetchedEpoch: epoch, KnownHW: resp.HW})
	default:
		return
	}
	a.w.cov.Inc("attack:aimed-fetch")
	// Right behind the answer, before the follower can have synced what it carries.
	a.inject(to, from, a.disguise(forged), "aimed-fetch", time.Duration(1+a.rng.Int64N(int64(300*time.Microsecond))))
}

// batchesEnd returns the offset after the last whole batch of b and that batch's leader
// epoch; ok is false when b holds no whole batch.
func batchesEnd(b []byte) (end int64, epoch int32, ok bool) {
	for len(b) > 0 {
		h, err := record.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		end, epoch, ok = h.NextOffset(), h.PartitionLeaderEpoch, true
		b = b[h.Size():]
	}
	return end, epoch, ok
}

// disguise turns a forged payload into what an attacker without the connection's key
// can put on the wire: the payload under a made-up tag, or sealed under a key of its own.
func (a *attacker) disguise(payload []byte) []byte {
	if a.rng.IntN(2) == 0 {
		return a.stranger.Seal(make([]byte, 0, len(payload)+peerauth.TagBytes), payload)
	}
	frame := append(make([]byte, 0, len(payload)+peerauth.TagBytes), payload...)
	var tag [peerauth.TagBytes]byte
	fillRandom(a.rng, tag[:])
	return append(frame, tag[:]...)
}

// attackPeer injects one forged frame into the connection of a pair of nodes.
func (a *attacker) attackPeer() {
	up := a.upNodes()
	if len(up) == 0 || len(a.w.nodes) < 2 {
		return
	}
	target := up[a.rng.IntN(len(up))]
	switch r := a.rng.IntN(10); {
	case r < 6:
		claimed, kind, payload := a.hostile(target)
		if payload == nil {
			return
		}
		frame := payload
		switch a.rng.IntN(3) {
		case 0:
			kind += "/unsealed"
		case 1:
			kind += "/made-up-tag"
			frame = a.disguise(payload)
		default:
			kind += "/stranger-key"
			frame = a.stranger.Seal(make([]byte, 0, len(payload)+peerauth.TagBytes), payload)
		}
		a.inject(claimed, target.spec.ID, frame, kind, a.delay())
	case r < 8:
		a.replay(target)
	default:
		a.flip()
	}
}

// delay is how long an injected frame takes to arrive.
func (a *attacker) delay() time.Duration {
	return time.Duration(int64(100*time.Microsecond) + a.rng.Int64N(int64(time.Millisecond)))
}

// replay injects a captured frame into the connection of another pair, or into its own
// pair once a crash of either end ended the connection it was sealed on (on its own
// live connection it would only be a duplicate, which the peer protocols tolerate).
func (a *attacker) replay(target *simNode) {
	c := a.pickCapture()
	if c == nil {
		return
	}
	s := a.w.auth.pair(c.from, c.to)
	if !s.live(a.w.node(c.from), a.w.node(c.to)) || s.serial != c.serial {
		a.inject(c.from, c.to, c.frame, "replay/earlier-incarnation", a.delay())
		return
	}
	claimed := a.otherNode(target.spec.ID)
	if claimed == c.from && target.spec.ID == c.to {
		// The frame's own pair: turn it around.
		claimed, target = c.to, a.w.node(c.from)
	}
	a.inject(claimed, target.spec.ID, c.frame, "replay/other-pair", a.delay())
}

// flip injects a captured frame with bytes flipped into its own connection.
func (a *attacker) flip() {
	c := a.pickCapture()
	if c == nil {
		return
	}
	frame := append([]byte(nil), c.frame...)
	for range 1 + a.rng.IntN(3) {
		frame[a.rng.IntN(len(frame))] ^= byte(1 + a.rng.IntN(255))
	}
	if bytes.Equal(frame, c.frame) {
		frame[0] ^= 0x80 // two flips of one byte undid each other
	}
	a.inject(c.from, c.to, frame, "flipped", a.delay())
}

func (a *attacker) pickCapture() *capture {
	n := min(a.nCapture, attackCapturedMax)
	if n == 0 {
		return nil
	}
	c := &a.captured[a.rng.IntN(n)]
	if len(c.frame) == 0 {
		return nil
	}
	return c
}

// inject puts a frame on the connection claimed -> target, arriving after d. An attacker
// on the path is not stopped by the network's faults.
func (a *attacker) inject(claimed, target int32, frame []byte, kind string, d time.Duration) {
	if claimed < 1 || claimed == target || a.w.node(claimed) == nil {
		return
	}
	a.w.cov.Inc("attack:peer-listener")
	a.record(target, claimed, attackPeerListener, kind, frame)
	e := a.w.schedule(a.w.now+int64(d), evForged)
	e.node = target
	e.from = claimed
	e.data = frame
}

// arriveForged hands a forged frame to the receiving end of its connection: only what
// opens reaches the node.
func (w *World) arriveForged(e *event) {
	n := w.node(e.node)
	if !n.up {
		return
	}
	payload, from, ok := w.auth.open(e.from, n, e.data, 0)
	if !ok {
		return
	}
	w.cov.Inc("attack:peer-delivered")
	n.deliver(input{kind: inPeer, from: from, data: payload})
}

// forgeHandshake opens a connection to a node's peer listener in another node's name
// and tries to finish the handshake without the secret.
func (a *attacker) forgeHandshake() {
	up := a.upNodes()
	if len(up) == 0 {
		return
	}
	target := up[a.rng.IntN(len(up))]
	claimed := a.otherNode(target.spec.ID)
	if claimed < 0 {
		claimed = target.spec.ID // a one-node cluster: claim to be the node itself
	}
	var nonce, theirs [peerauth.NonceBytes]byte
	fillRandom(a.rng, nonce[:])
	fillRandom(a.rng, theirs[:])
	hello := peerauth.AppendHello(nil, peerauth.Hello{Version: peerauth.Version, Node: claimed, Cluster: simClusterID, Addr: peerAddr(claimed), Nonce: nonce})
	kind := "handshake/made-up-proof"
	switch a.rng.IntN(5) {
	case 0:
		kind = "handshake/reflected-proof"
	case 1:
		kind = "handshake/old-version"
		hello[0] = peerauth.Version - 1
	case 2:
		kind = "handshake/truncated-hello"
		hello = hello[:a.rng.IntN(len(hello))]
	}
	a.w.cov.Inc("attack:peer-handshake")
	a.record(target.spec.ID, claimed, attackHandshake, kind, hello)
	acc, challenge, err := peerauth.Accept(a.w.auth.secret, hello, target.spec.ID, theirs)
	if err != nil {
		a.w.cov.Inc("auth:refused:handshake")
		return
	}
	proof := make([]byte, peerauth.ProofBytes)
	fillRandom(a.rng, proof)
	if kind == "handshake/reflected-proof" {
		proof = challenge[4+peerauth.NonceBytes:]
	}
	if _, err := acc.Finish(proof); err == nil {
		a.w.fail("attack", target.spec.ID, "node %d accepted a forged handshake in node %d's name (%s)", target.spec.ID, claimed, kind)
		return
	}
	a.w.cov.Inc("auth:refused:handshake")
}

// ---- hostile messages ----

// Peer message kinds (core/peer.go) the attacker reads.
const (
	peerKindQuorum  = 1
	peerKindReplica = 6
)

// hostile builds a forged message for target, aimed with what the attacker sees of the
// cluster, and the node it claims to come from. payload is nil when nothing applies.
func (a *attacker) hostile(target *simNode) (claimed int32, kind string, payload []byte) {
	type option func() (int32, string, []byte)
	var options []option
	v := a.w.View()
	id := target.spec.ID
	if st, ok := v.Quorum(id); ok && target.spec.Voter {
		options = append(options, func() (int32, string, []byte) { return a.forgeVoteRequest(target, st) })
		options = append(options, func() (int32, string, []byte) { return a.forgeBeginEpoch(target, st) })
		if st.Role == "candidate" || st.Role == "prospective" {
			options = append(options, func() (int32, string, []byte) { return a.forgeVote(target, st) })
		}
		if st.Leader {
			options = append(options, func() (int32, string, []byte) { return a.forgeQuorumFetch(target, st) })
			options = append(options, func() (int32, string, []byte) { return a.forgeFetchSnapshot(target, st) })
			options = append(options, func() (int32, string, []byte) { return a.forgeCall(target) })
			options = append(options, func() (int32, string, []byte) { return a.forgeCall(target) })
			options = append(options, func() (int32, string, []byte) {
				a.nextID++
				return a.otherNode(id), "barrier", core.EncodePeerBarrier(a.nextID)
			})
		}
	}
	if target.spec.Broker && a.w.opts.Inspect.Replicas != nil {
		reps := a.w.opts.Inspect.Replicas(target.m, nil)
		var leading []ReplicaView
		for _, r := range reps {
			if r.Leader && !r.Closed && len(r.ISR) > 0 {
				leading = append(leading, r)
			}
		}
		if len(leading) > 0 {
			options = append(options, func() (int32, string, []byte) {
				return a.forgeReplicaFetch(target, leading[a.rng.IntN(len(leading))])
			}, func() (int32, string, []byte) {
				return a.forgeReplicaFetch(target, leading[a.rng.IntN(len(leading))])
			})
		}
	}
	if len(options) == 0 {
		// Nothing to aim at: a quorum message in another node's name anyway.
		claimed = a.otherNode(id)
		return claimed, "vote-request", core.EncodePeerQuorum(&raft.VoteRequest{Epoch: math.MaxInt32, CandidateID: claimed, LastEpoch: math.MaxInt32, EndOffset: math.MaxInt64})
	}
	return options[a.rng.IntN(len(options))]()
}

// epochAbove is either the largest epoch or one just above cur.
func (a *attacker) epochAbove(cur int32) int32 {
	if a.rng.IntN(3) == 0 || cur == math.MaxInt32 {
		return math.MaxInt32
	}
	return cur + 1
}

// otherVoter picks a voter other than the target, or -1.
func (a *attacker) otherVoter(not int32) int32 {
	var vs []int32
	for _, id := range a.w.cfg.Voters() {
		if id != not {
			vs = append(vs, id)
		}
	}
	if len(vs) == 0 {
		return -1
	}
	return vs[a.rng.IntN(len(vs))]
}

func (a *attacker) forgeVoteRequest(target *simNode, st QuorumStatus) (int32, string, []byte) {
	cand := a.otherVoter(target.spec.ID)
	epoch := a.epochAbove(st.ActingEpoch)
	return cand, "vote-request", core.EncodePeerQuorum(&raft.VoteRequest{Epoch: epoch, CandidateID: cand, LastEpoch: max(st.LastEpoch, epoch-1),
		EndOffset: st.EndOffset + 1 + a.rng.Int64N(1<<20), PreVote: a.rng.IntN(2) == 0})
}

func (a *attacker) forgeBeginEpoch(target *simNode, st QuorumStatus) (int32, string, []byte) {
	leader := a.otherVoter(target.spec.ID)
	return leader, "begin-quorum-epoch", core.EncodePeerQuorum(&raft.BeginQuorumEpoch{Epoch: a.epochAbove(st.ActingEpoch), LeaderID: leader})
}

// forgeVote grants a candidate (or a prospective voter) the vote of another voter.
func (a *attacker) forgeVote(target *simNode, st QuorumStatus) (int32, string, []byte) {
	voter := a.otherVoter(target.spec.ID)
	pre := st.Role == "prospective"
	epoch := st.ActingEpoch
	if pre {
		epoch++
	}
	return voter, "vote", core.EncodePeerQuorum(&raft.VoteResponse{Epoch: st.ActingEpoch, Leader: -1, VoteEpoch: epoch, PreVote: pre, Granted: true})
}

// forgeQuorumFetch claims, in a follower's name, the leader's whole log as fetched (a
// voter's fetch offset is also its durable offset).
func (a *attacker) forgeQuorumFetch(target *simNode, st QuorumStatus) (int32, string, []byte) {
	voter := a.otherVoter(target.spec.ID)
	return voter, "quorum-fetch", core.EncodePeerQuorum(&raft.Fetch{Epoch: st.ActingEpoch, ReplicaID: voter, FetchOffset: st.EndOffset,
		LastFetchedEpoch: st.LastEpoch, KnownHW: st.HW})
}

func (a *attacker) forgeFetchSnapshot(target *simNode, st QuorumStatus) (int32, string, []byte) {
	voter := a.otherNode(target.spec.ID)
	pos := int64(0)
	if a.rng.IntN(2) == 0 {
		pos = a.rng.Int64N(math.MaxInt64)
	}
	return voter, "fetch-snapshot", core.EncodePeerQuorum(&raft.FetchSnapshot{Epoch: st.ActingEpoch, ReplicaID: voter,
		Snapshot: raft.SnapshotID{EndOffset: st.StartOffset, Epoch: st.LastEpoch}, Position: pos})
}

// forgeReplicaFetch claims, in a follower's name, a partition leader's whole log as
// fetched and durable.
func (a *attacker) forgeReplicaFetch(target *simNode, r ReplicaView) (int32, string, []byte) {
	var followers []int32
	for _, id := range r.ISR {
		if id != target.spec.ID {
			followers = append(followers, id)
		}
	}
	key := partition.Key{TopicID: r.TopicID, Partition: r.Partition}
	if len(followers) == 0 || a.rng.IntN(8) == 0 {
		// No follower in the ISR to speak for: ask where an epoch ends in another's name.
		other := a.otherNode(target.spec.ID)
		return other, "replica-epoch-query", core.EncodePeerReplica(&partition.EpochQuery{Key: key, RequestID: a.rng.Uint64(),
			ReplicaID: other, CurrentLeaderEpoch: r.LeaderEpoch, LeaderEpoch: r.LeaderEpoch})
	}
	follower := followers[a.rng.IntN(len(followers))]
	last := int32(-1)
	for _, e := range r.Epochs {
		if e.StartOffset < r.LEO {
			last = e.Epoch
		}
	}
	return follower, "replica-fetch", core.EncodePeerReplica(&partition.Fetch{Key: key,
		RequestID: a.rng.Uint64(), ReplicaID: follower, CurrentLeaderEpoch: r.LeaderEpoch, FetchOffset: r.LEO, DurableOffset: r.LEO,
		LastFetchedEpoch: last, LogStartOffset: r.Start, MaxBytes: 1 << 20})
}
