package sim

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/peerauth"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The byzantine client's attacks on client listeners (see attack.go).

// answerRule is what a node may do with an attacker's frame on its client listener.
type answerRule uint8

const (
	// answerNone: the frame is no request the node can answer (bad framing, a malformed
	// or unknown request): it closes the connection, or waits for bytes that never come.
	answerNone answerRule = iota + 1
	// answerError: a well-formed request the node must refuse (a follower fetch on the
	// client listener): only errors may come back.
	answerError
	// answerAny: a well-formed request (a random frame that happens to decode).
	answerAny
)

// attackConn is one of the attacker's connections to a client listener.
type attackConn struct {
	kind   string
	expect answerRule
	// req is the request the frame decodes to, if any, to read the answer.
	req kmsg.Request
}

// attackClientKinds are the frames the attacker sends to client listeners.
var attackClientKinds = []string{"peer-preamble", "peer-preamble-hello", "raw-peer", "framed-peer",
	"tag-bomb-header", "tag-bomb-body", "truncated", "random", "controller-call", "replica-fetch"}

// attackClient opens a connection to a node's client listener and sends one frame; it
// hangs up a while later unless the node closed the connection first.
func (a *attacker) attackClient() {
	w := a.w
	up := a.upNodes()
	if len(up) == 0 || a.conns >= attackConnsMax {
		return
	}
	target := up[a.rng.IntN(len(up))]
	id, ok := w.net.Open(a.client.addr, target.addr)
	if !ok {
		w.cov.Inc("attack:client-refused")
		return
	}
	kind := attackClientKinds[a.rng.IntN(len(attackClientKinds))]
	if kind == "controller-call" && len(w.cfg.Data.TxnProducers) > 0 {
		// In seeds with transactions every other call a coordinator would make goes in
		// as WriteTxnMarkers. The turn takes no draw: other seeds' attacks stay as they were.
		a.markersTurn = !a.markersTurn
		if a.markersTurn {
			kind = "txn-markers"
		}
	}
	frame := a.clientFrame(target, kind)
	expect, req := a.expectation(frame)
	ac := &attackConn{kind: kind, expect: expect, req: req}
	l := &link{id: id, client: a.client, node: target.spec.ID, inc: target.inc, attack: ac}
	w.links[id] = l
	a.conns++
	w.cov.Inc("attack:client-listener")
	a.record(target.spec.ID, -1, attackClientListener, kind, frame)
	w.streamSend(l, a.client.addr, target.addr, frame)
	e := w.schedule(w.now+int64(20*time.Millisecond)+a.rng.Int64N(int64(500*time.Millisecond)), evAttackClose)
	e.stream = id
}

// hangUp closes an attacker connection the node left open.
func (a *attacker) hangUp(id netsim.StreamID) {
	if l := a.w.links[id]; l != nil && l.attack != nil && !a.w.net.Broken(id) {
		a.w.breakLink(id, false)
	}
}

// broken is told that one of the attacker's connections is gone.
func (a *attacker) broken(l *link) { a.conns-- }

// receive checks a node's answer on an attacker connection.
func (a *attacker) receive(l *link, frame []byte) {
	w, ac := a.w, l.attack
	w.cov.Inc("attack:client-answered")
	switch ac.expect {
	case answerNone:
		w.fail("attack", l.node, "node %d answered a %s frame on its client listener instead of closing the connection", l.node, ac.kind)
	case answerError:
		resp := ac.req.ResponseKind()
		resp.SetVersion(ac.req.GetVersion())
		if _, err := wire.ParseResponse(frame[4:], resp); err != nil {
			w.fail("attack", l.node, "node %d answered a %s frame with an undecodable response: %v", l.node, ac.kind, err)
			return
		}
		if !refused(resp) {
			w.fail("attack", l.node, "node %d served a %s frame on its client listener instead of refusing it", l.node, ac.kind)
		}
	}
}

// refused reports whether a response refuses its request: for a fetch, a top-level
// error or an error and no records for every partition; for WriteTxnMarkers, an error
// for every partition.
func refused(resp kmsg.Response) bool {
	if m, ok := resp.(*kmsg.WriteTxnMarkersResponse); ok {
		for _, mk := range m.Markers {
			for _, t := range mk.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						return false
					}
				}
			}
		}
		return true
	}
	r, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return false
	}
	if r.ErrorCode != 0 {
		return true
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 || len(p.RecordBatches) > 0 {
				return false
			}
		}
	}
	return true
}

// expectation works out, as the node's own reader would, what the node may answer to
// frame, and the request it decodes to.
func (a *attacker) expectation(frame []byte) (answerRule, kmsg.Request) {
	if !wholeFrame(frame) {
		return answerNone, nil // bad framing, or a frame the node waits to complete
	}
	h, req, err := wire.ParseRequest(frame[4:], a.w.served)
	switch {
	case err == nil:
		if f, ok := req.(*kmsg.FetchRequest); ok && (f.ReplicaID >= 0 || (f.GetVersion() >= 15 && f.ReplicaState.ID >= 0)) {
			return answerError, req
		}
		if _, ok := req.(*kmsg.WriteTxnMarkersRequest); ok {
			return answerError, req // only brokers write markers, over the peer listener
		}
		return answerAny, req
	case errors.Is(err, wire.ErrUnsupported) && h.Key == apiVersionsKey:
		return answerAny, nil // the version-0 error answer
	}
	return answerNone, nil
}

// clientFrame builds a frame of kind for target's client listener.
func (a *attacker) clientFrame(target *simNode, kind string) []byte {
	switch kind {
	case "peer-preamble":
		// The old peer framing: preamble, then a handshake frame in another node's name.
		claimed := max(a.otherNode(target.spec.ID), 1)
		hs := []byte{1}
		hs = binary.BigEndian.AppendUint32(hs, uint32(claimed))
		hs = binary.BigEndian.AppendUint16(hs, uint16(len(simClusterID)))
		hs = append(hs, simClusterID...)
		addr := peerAddr(claimed)
		hs = binary.BigEndian.AppendUint16(hs, uint16(len(addr)))
		hs = append(hs, addr...)
		b := append([]byte("SDLP"), 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[4:], uint32(len(hs)))
		return append(b, hs...)
	case "peer-preamble-hello":
		var nonce [peerauth.NonceBytes]byte
		fillRandom(a.rng, nonce[:])
		hello := peerauth.AppendHello(nil, peerauth.Hello{Version: peerauth.Version, Node: max(a.otherNode(target.spec.ID), 1), Cluster: simClusterID, Nonce: nonce})
		b := append([]byte("SDLP"), 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[4:], uint32(len(hello)))
		return append(b, hello...)
	case "raw-peer", "framed-peer":
		_, _, payload := a.hostile(target)
		if kind == "raw-peer" {
			return payload
		}
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
	case "tag-bomb-header", "tag-bomb-body":
		return a.tagBomb(kind == "tag-bomb-header")
	case "truncated":
		req := a.plainRequest()
		frame := a.frameOf(req)
		cut := 5 + a.rng.IntN(len(frame)-5)
		frame = frame[:cut]
		if a.rng.IntN(2) == 0 {
			binary.BigEndian.PutUint32(frame, uint32(cut-4)) // whole, but cut short inside
		}
		return frame
	case "random":
		return a.randomFrame()
	case "controller-call":
		return a.frameOf(a.controllerRequest(target))
	case "replica-fetch":
		return a.frameOf(a.followerFetchRequest())
	case "txn-markers":
		return a.frameOf(a.markersRequest(target))
	}
	panic("sim: unknown client attack " + kind)
}

// frameOf frames req as a client would, at the version it carries.
func (a *attacker) frameOf(req kmsg.Request) []byte {
	a.nextID++
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("attacker")).AppendRequest(nil, req, int32(a.nextID))
}

// tagBomb is a flexible Produce or Fetch whose header's or body's tagged-field count is
// 0xffffffff (a uvarint of five bytes), and nothing after it.
func (a *attacker) tagBomb(inHeader bool) []byte {
	var req kmsg.Request
	if a.rng.IntN(2) == 0 {
		p := kmsg.NewPtrProduceRequest()
		p.SetVersion(int16(9 + a.rng.IntN(3)))
		p.Acks, p.TimeoutMillis = -1, 1000
		t := kmsg.NewProduceRequestTopic()
		t.Topic = "attack"
		t.Partitions = []kmsg.ProduceRequestTopicPartition{kmsg.NewProduceRequestTopicPartition()}
		p.Topics = []kmsg.ProduceRequestTopic{t}
		req = p
	} else {
		f := kmsg.NewPtrFetchRequest()
		f.SetVersion(int16(12 + a.rng.IntN(5)))
		f.ReplicaID, f.MaxWaitMillis, f.MaxBytes = -1, 100, 1<<20
		req = f
	}
	frame := a.frameOf(req)
	bomb := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	var out []byte
	if inHeader {
		// size, key, version, correlation id, client id "attacker", then the tag count.
		at := 4 + 2 + 2 + 4 + 2 + len("attacker")
		out = append(append(append(out, frame[:at]...), bomb...), frame[at+1:]...)
	} else {
		// The body's last byte is its top-level tag count.
		out = append(append(out, frame[:len(frame)-1]...), bomb...)
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// readOnlyKeys are the API keys random frames use: reads, and keys nobody serves. A
// random frame never writes (it could otherwise decode into a real request that changes
// the cluster, which the histories would not know of).
var readOnlyKeys = []int16{1, 2, 3, 9, 10, 15, 16, 18, 32, 60, 63, 999, -1}

// randomFrame is a frame of random bytes behind a random read-only key and version.
func (a *attacker) randomFrame() []byte {
	body := make([]byte, 4+a.rng.IntN(200))
	fillRandom(a.rng, body)
	frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	frame = binary.BigEndian.AppendUint16(frame, uint16(readOnlyKeys[a.rng.IntN(len(readOnlyKeys))]))
	frame = binary.BigEndian.AppendUint16(frame, uint16(a.rng.IntN(20)))
	return append(frame, body...)
}

// plainRequest is a well-formed read request at a random served version.
func (a *attacker) plainRequest() kmsg.Request {
	var req kmsg.Request
	switch a.rng.IntN(3) {
	case 0:
		m := kmsg.NewPtrMetadataRequest()
		m.Topics = []kmsg.MetadataRequestTopic{}
		req = m
	case 1:
		req = kmsg.NewPtrDescribeClusterRequest()
	default:
		req = a.followerFetchRequest()
		req.(*kmsg.FetchRequest).ReplicaID = -1
		req.(*kmsg.FetchRequest).ReplicaState.ID = -1
		return req
	}
	lo, hi, _ := a.w.served.Range(req.Key())
	hi = min(hi, req.MaxVersion())
	req.SetVersion(lo + int16(a.rng.IntN(int(hi-lo)+1)))
	return req
}

// followerFetchRequest is a Kafka fetch in a broker's name (a replica id), for a data
// partition, as the old inter-broker protocol sent them on the shared listener.
func (a *attacker) followerFetchRequest() *kmsg.FetchRequest {
	f := kmsg.NewPtrFetchRequest()
	f.SetVersion(int16(4 + a.rng.IntN(13)))
	brokers := a.w.cfg.Brokers()
	f.ReplicaID = brokers[a.rng.IntN(len(brokers))]
	f.ReplicaState.ID, f.ReplicaState.Epoch = f.ReplicaID, -1
	f.MaxWaitMillis, f.MaxBytes = 0, 1<<20
	t := kmsg.NewFetchRequestTopic()
	t.Topic = "attack"
	if ts := a.w.cfg.Data.Topics; len(ts) > 0 {
		t.Topic = ts[a.rng.IntN(len(ts))].Name
	}
	if v, ok := a.w.View().Metadata(brokers[0]); ok {
		for _, tv := range v.Topics {
			if tv.Name == t.Topic {
				t.TopicID = tv.ID
			}
		}
	}
	p := kmsg.NewFetchRequestTopicPartition()
	p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch, p.LastFetchedEpoch = 0, 1<<20, -1, -1
	t.Partitions = []kmsg.FetchRequestTopicPartition{p}
	f.Topics = []kmsg.FetchRequestTopic{t}
	return f
}

// forgeCall is a controller call in another node's name, for the active controller.
func (a *attacker) forgeCall(target *simNode) (int32, string, []byte) {
	req := a.controllerRequest(target)
	var claimed int32
	switch r := req.(type) {
	case *kmsg.BrokerHeartbeatRequest:
		claimed = r.BrokerID
	case *kmsg.AlterPartitionRequest:
		claimed = r.BrokerID
	case *kmsg.BrokerRegistrationRequest:
		claimed = r.BrokerID
	}
	a.nextID++
	return claimed, kmsg.NameForKey(req.Key()), core.EncodePeerCall(a.rng.Uint64(), a.nextID, req)
}

// controllerRequest builds a BrokerHeartbeat, AlterPartition or BrokerRegistration in
// the name of a broker other than target, from what target's image says.
func (a *attacker) controllerRequest(target *simNode) kmsg.Request {
	md, _ := a.w.View().Metadata(target.spec.ID)
	var brokers []BrokerView
	for _, b := range md.Brokers {
		if b.ID != target.spec.ID {
			brokers = append(brokers, b)
		}
	}
	type part struct {
		t *TopicView
		p int
	}
	// Partitions led by another broker; those with replicas outside the ISR first: an
	// ISR "expanded" to a replica that is not in sync is the damage an ISR change in
	// the leader's name can do.
	var led, lagging []part
	for i := range md.Topics {
		t := &md.Topics[i]
		for p, l := range t.Leaders {
			if l >= 0 && l != target.spec.ID {
				led = append(led, part{t, p})
				if len(t.ISRs[p]) < len(t.Replicas[p]) {
					lagging = append(lagging, part{t, p})
				}
			}
		}
	}
	if len(lagging) > 0 && a.rng.IntN(4) != 0 {
		led = lagging
	}
	switch r := a.rng.IntN(3); {
	case r == 0 && len(led) > 0:
		pt := led[a.rng.IntN(len(led))]
		t, p := pt.t, pt.p
		leader := t.Leaders[p]
		req := kmsg.NewPtrAlterPartitionRequest()
		req.SetVersion(2)
		req.BrokerID, req.BrokerEpoch = leader, -1
		for _, b := range md.Brokers {
			if b.ID == leader {
				req.BrokerEpoch = b.Epoch
			}
		}
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.TopicID = t.ID
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = int32(p), t.LeaderEpochs[p], t.PartitionEpochs[p]
		if a.rng.IntN(4) != 0 {
			rp.NewISR = append([]int32(nil), t.Replicas[p]...) // every replica, in sync or not
		} else {
			rp.NewISR = []int32{leader}
		}
		rt.Partitions = []kmsg.AlterPartitionRequestTopicPartition{rp}
		req.Topics = []kmsg.AlterPartitionRequestTopic{rt}
		return req
	case r == 1 && len(brokers) > 0:
		b := brokers[a.rng.IntN(len(brokers))]
		req := kmsg.NewPtrBrokerHeartbeatRequest()
		req.SetVersion(0)
		req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = b.ID, b.Epoch, math.MaxInt64
		req.WantFence = a.rng.IntN(2) == 0
		req.WantShutdown = a.rng.IntN(8) == 0
		return req
	}
	id := max(a.otherNode(target.spec.ID), 1)
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.SetVersion(0)
	req.BrokerID, req.ClusterID = id, simClusterID
	fillRandom(a.rng, req.IncarnationID[:])
	req.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: "PLAINTEXT", Host: "attacker", Port: 9092}}
	return req
}

// markersRequest is a WriteTxnMarkers a transaction coordinator might send target: an
// abort, with a high producer epoch and coordinator epoch, for a producer id the run may
// be using, on the partitions target leads (any partition when it leads none). Written,
// it would end other producers' transactions and fence them.
func (a *attacker) markersRequest(target *simNode) *kmsg.WriteTxnMarkersRequest {
	md, _ := a.w.View().Metadata(target.spec.ID)
	mk := kmsg.NewWriteTxnMarkersRequestMarker()
	mk.ProducerID, mk.ProducerEpoch, mk.CoordinatorEpoch = a.rng.Int64N(4), math.MaxInt16-1, math.MaxInt32
	var fallback *kmsg.WriteTxnMarkersRequestMarkerTopic
	for _, t := range md.Topics {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic = t.Name
		for p, l := range t.Leaders {
			if l == target.spec.ID {
				mt.Partitions = append(mt.Partitions, int32(p))
			}
		}
		if len(mt.Partitions) > 0 {
			mk.Topics = append(mk.Topics, mt)
		} else if fallback == nil && len(t.Leaders) > 0 {
			mt.Partitions = []int32{0}
			fallback = &mt
		}
	}
	if len(mk.Topics) == 0 && fallback != nil {
		mk.Topics = append(mk.Topics, *fallback)
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.SetVersion(1)
	req.Markers = append(req.Markers, mk)
	return req
}
