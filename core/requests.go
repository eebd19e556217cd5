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
	n.listener = req.Listener
	defer func() { n.listener = "" }()
	cn, s, fresh := n.conns.open(&n.cfg, req.Conn, req.Corr)
	if s == nil {
		n.closeConn(req.Conn, "too many requests in flight")
		return
	}
	if fresh {
		cn.saslRequired = n.saslRequired(req.Listener)
	}
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
	n.dispatch(req, reply)
}

// dispatch routes a decoded request to its handler.
func (n *Node) dispatch(req Request, reply func(kmsg.Response)) {
	switch m := req.Msg.(type) {
	case *kmsg.ApiVersionsRequest:
		reply(kafka.ApiVersions(m))
	case *kmsg.MetadataRequest:
		l := req.Listener
		n.afterBarrier(m, reply, func() kmsg.Response { return kafka.Metadata(n.viewFrom(l), m) })
	case *kmsg.DescribeClusterRequest:
		l := req.Listener
		n.afterBarrier(m, reply, func() kmsg.Response { return kafka.DescribeCluster(n.viewFrom(l), m) })
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		n.afterBarrier(m, reply, func() kmsg.Response { return kafka.DescribeUserScramCredentials(n.view(), m) })
	default:
		if kafka.Forwarded(m.Key()) {
			n.forward(m, reply)
			return
		}
		if !n.dispatchData(req, reply) {
			n.closeConn(req.Conn, "no handler for "+kmsg.NameForKey(m.Key()))
		}
	}
}

// afterBarrier answers with answer() once a read barrier passed. Without a controller to
// confirm an index in time, a Metadata request still gets the broker's image, marked so
// clients retry: every topic fails with REQUEST_TIMED_OUT, which they treat as retriable.
func (n *Node) afterBarrier(req kmsg.Request, reply func(kmsg.Response), answer func() kmsg.Response) {
	n.rpc.readBarrier(n, func(ok bool) {
		resp := answer()
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
	n.conns.close(c)
	n.out.Close = append(n.out.Close, c)
	n.note("conn-closed", why)
}

func (n *Node) view() kafka.View { return n.viewFrom(n.listener) }

// viewFrom is the view of a request that came on listener l.
func (n *Node) viewFrom(l string) kafka.View {
	v := kafka.View{Image: n.quorum.image, ClusterID: n.cfg.ClusterID, NodeID: n.cfg.NodeID, Listener: l,
		FetchBytesMax: n.cfg.FetchBytesMax, Static: n.static}
	if n.cfg.Broker {
		v.Fences = n.replicaFences
	}
	return v
}
