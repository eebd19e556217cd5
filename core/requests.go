package core

import (
	"errors"

	"github.com/seedlog/seedlog/core/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request handles a client request. Its response, if any, appears in a later Drain, in
// request order for its connection.
func (n *Node) Request(now int64, req Request) {
	if !n.accept(now) {
		return
	}
	n.request(req)
	n.after(now)
}

// ConnClosed tells the node a client connection closed; nothing more is sent on it.
func (n *Node) ConnClosed(now int64, c ConnID) {
	if !n.accept(now) {
		return
	}
	n.conns.close(c)
	n.after(now)
}

func (n *Node) request(req Request) {
	if n.conns.hungUp[req.Conn] {
		return // read before the shell closed the connection the node gave up on
	}
	cn, s, fresh := n.conns.open(&n.cfg, req.Conn, req.Corr)
	if s == nil {
		n.closeConn(req.Conn, "too many requests in flight")
		return
	}
	if fresh {
		cn.saslRequired = n.saslRequired(req.Listener)
	}
	if cn.mutedUntil > n.now || len(cn.held) > 0 {
		// A client quota muted the connection (KIP-219): the request waits, in order,
		// until tickQuotas hands it on.
		cn.held = append(cn.held, heldRequest{req: req, s: s})
		n.quotas.track(req.Conn)
		return
	}
	n.handle(cn, s, req)
}

// handle serves a request whose slot in its connection's response order is s.
func (n *Node) handle(cn *conn, s *slot, req Request) {
	n.ctx = reqCtx{listener: req.Listener, principal: principalOf(cn, req), host: req.Host}
	defer func() { n.ctx = reqCtx{} }()
	reply := func(resp kmsg.Response) {
		n.out.Responses = n.conns.fill(s, resp, n.out.Responses)
	}
	if req.Msg == nil {
		if req.Key == 18 {
			reply(kafka.ApiVersionsUnsupported())
			return
		}
		n.closeConn(req.Conn, "unsupported api key or version")
		return
	}
	if _, ok := req.Msg.(*kmsg.ApiVersionsRequest); !ok && !n.cfg.Broker {
		n.closeConn(req.Conn, "a controller serves no client requests")
		return
	}
	if !n.authGate(cn, req, reply) {
		return
	}
	n.dispatch(req, n.requestQuotaReply(req, reply))
}

// dispatch routes a decoded request to its handler.
func (n *Node) dispatch(req Request, reply func(kmsg.Response)) {
	switch m := req.Msg.(type) {
	case *kmsg.ApiVersionsRequest:
		reply(kafka.ApiVersions(m, n.cfg.TxnVersion))
	case *kmsg.MetadataRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.Metadata(v, m) })
	case *kmsg.DescribeClusterRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.DescribeCluster(v, m) })
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.DescribeUserScramCredentials(v, m) })
	case *kmsg.DescribeACLsRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.DescribeAcls(v, m) })
	case *kmsg.DescribeClientQuotasRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.DescribeClientQuotas(v, m) })
	case *kmsg.DescribeTopicPartitionsRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.DescribeTopicPartitions(v, m) })
	case *kmsg.ListPartitionReassignmentsRequest:
		n.afterBarrier(m, reply, func(v kafka.View) kmsg.Response { return kafka.ListPartitionReassignments(v, m) })
	case *kmsg.DescribeLogDirsRequest:
		n.describeLogDirs(m, reply)
	case *kmsg.DescribeQuorumRequest:
		n.describeQuorum(m, reply)
	default:
		if kafka.Forwarded(m.Key()) {
			n.forwardAuthorized(m, reply)
			return
		}
		if !n.dispatchData(req, n.quotaReply(req, reply)) {
			n.closeConn(req.Conn, "no handler for "+kmsg.NameForKey(m.Key()))
		}
	}
}

// afterBarrier answers with answer() once a read barrier passed, authorizing on the
// image the barrier made current. Without a controller to confirm an index in time, a
// Metadata request still gets the broker's image, marked so clients retry: every topic
// fails with REQUEST_TIMED_OUT, which they treat as retriable.
func (n *Node) afterBarrier(req kmsg.Request, reply func(kmsg.Response), answer func(kafka.View) kmsg.Response) {
	ctx := n.ctx
	n.rpc.readBarrier(n, func(ok bool) {
		resp := answer(n.viewFor(ctx, ok))
		if !ok {
			markStale(resp)
		}
		reply(resp)
	})
}

// markStale fails every item of a response answered without a barrier.
func markStale(resp kmsg.Response) {
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range r.Topics {
			r.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
		}
	case *kmsg.DescribeClusterResponse:
		r.ErrorCode = kerr.RequestTimedOut.Code
	case *kmsg.DescribeUserSCRAMCredentialsResponse:
		r.ErrorCode, r.Results = kerr.RequestTimedOut.Code, nil
	case *kmsg.DescribeACLsResponse:
		r.ErrorCode, r.Resources = kerr.RequestTimedOut.Code, nil
	case *kmsg.DescribeClientQuotasResponse:
		r.ErrorCode, r.Entries = kerr.RequestTimedOut.Code, nil
	case *kmsg.ListPartitionReassignmentsResponse:
		r.ErrorCode, r.Topics = kerr.RequestTimedOut.Code, nil
	case *kmsg.DescribeTopicPartitionsResponse:
		for i := range r.Topics {
			r.Topics[i].ErrorCode, r.Topics[i].Partitions = kerr.RequestTimedOut.Code, nil
		}
		r.NextCursor = nil
	}
}

// forward sends an admin request to the active controller and relays its answer.
func (n *Node) forward(req kmsg.Request, reply func(kmsg.Response)) {
	n.rpc.callController(n, req, func(resp kmsg.Response, err error) {
		switch {
		case errors.Is(err, errCallsFull):
			reply(kafka.ForwardError(req, kerr.NotController.Code))
		case err != nil:
			reply(kafka.ForwardError(req, kerr.RequestTimedOut.Code))
		default:
			reply(resp)
		}
	})
}

func (n *Node) closeConn(c ConnID, why string) {
	n.conns.hangUp(c)
	n.out.Close = append(n.out.Close, c)
	n.note("conn-closed", why)
}

// view is the view of the request being handled; its authorization is fresh while the
// broker holds a valid lease (see kafka.Access).
func (n *Node) view() kafka.View { return n.viewFor(n.ctx, n.LeaseValid(n.now)) }

// viewFor is the view of a request with context ctx; fresh says the image holds every
// acknowledged ACL change.
func (n *Node) viewFor(ctx reqCtx, fresh bool) kafka.View {
	v := kafka.View{Image: n.quorum.image, ClusterID: n.cfg.ClusterID, NodeID: n.cfg.NodeID, Listener: ctx.listener,
		FetchBytesMax: n.cfg.FetchBytesMax, Static: n.static, Principal: ctx.principal, Plants: n.cfg.Plants}
	if n.cfg.Broker {
		v.Fences = n.replicaFences
	}
	if n.cfg.Authorizer {
		v.Access = &kafka.Access{Principal: ctx.principal, Host: ctx.host, Config: &n.aclConfig, Fresh: fresh, Plants: n.cfg.Plants}
	}
	return v
}
