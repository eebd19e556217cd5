package core

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reqCtx is what the node knows of the client request it handles.
type reqCtx struct {
	listener  string
	principal string
	host      string
}

// principalOf is who sent a request: the user its connection authenticated as with
// SASL, else the identity the shell proved (a TLS client certificate), else anonymous.
func principalOf(cn *conn, req Request) string {
	switch {
	case cn.auth.user != "":
		return "User:" + cn.auth.user
	case req.Principal != "":
		return req.Principal
	}
	return acl.Anonymous
}

// forwardAuthorized forwards an admin request once a read barrier made the image
// current, with the items the principal may not touch taken out and answered here.
func (n *Node) forwardAuthorized(req kmsg.Request, reply func(kmsg.Response)) {
	if !n.cfg.Authorizer && !kafka.HasInternalTopic(req) {
		n.forward(req, reply)
		return
	}
	ctx := n.ctx
	n.rpc.readBarrier(n, func(ok bool) {
		if !ok {
			reply(kafka.ForwardError(req, kafka.CodeRequestTimedOut))
			return
		}
		allowed, denied := kafka.SplitForward(n.viewFor(ctx, true), req)
		if allowed == nil {
			reply(denied)
			return
		}
		n.forward(allowed, func(resp kmsg.Response) {
			reply(kafka.MergeForward(resp, denied))
		})
	})
}
