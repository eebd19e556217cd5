package controller

import (
	"math"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ACL changes are acknowledged only once no broker can still authorize without them:
// every registered, unfenced broker has reported (in a heartbeat) a metadata offset at
// or past the change, or every lease it was granted has ended. Heartbeats from a broker
// whose metadata lags the newest ACL change grant no lease (heartbeat), so a broker
// that authorizes only under a valid lease never decides on bindings an acknowledged
// change replaced: a principal that lost access is refused from then on.

// errMetadataBehind answers a heartbeat whose metadata offset lags the newest ACL
// change, or a record that took a leadership from the broker: no lease until the broker
// has applied it.
const errMetadataBehind = errOffsetNotAvailable

// aclWaiter is a committed ACL change's response, held until the brokers hold it.
type aclWaiter struct {
	id     uint64
	resp   kmsg.Response
	offset int64
}

func (c *Controller) createAcls(p Proposer, m *kmsg.CreateACLsRequest) kmsg.Response {
	resp := kmsg.NewPtrCreateACLsResponse()
	resp.Version = m.Version
	b := &budget{RequestRecordsMax}
	for _, cr := range m.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		out := ok()
		switch {
		case !c.cfg.Authorizer:
			out = fail(errSecurityDisabled, "no authorizer: set authorizer.class.name")
		default:
			bd := acl.Binding{Resource: acl.Resource{Type: acl.ResourceType(cr.ResourceType), Name: cr.ResourceName, Pattern: acl.PatternType(cr.ResourcePatternType)},
				Entry: acl.Entry{Principal: cr.Principal, Host: cr.Host, Operation: acl.Operation(cr.Operation), Permission: acl.Permission(cr.PermissionType)}}
			if why := bd.Validate(); why != "" {
				out = fail(errInvalidRequest, why)
			} else if !c.pending.HasAcl(bd) {
				if c.pending.AclCount() >= metadata.AclsMax {
					out = fail(errInvalidRequest, "the cluster holds the most ACLs it may")
				} else {
					out = c.spend(p, b, []metadata.Record{metadata.Acl{Binding: bd}})
				}
			}
		}
		r.ErrorCode, r.ErrorMessage = out.code, out.message()
		resp.Results = append(resp.Results, r)
	}
	return resp
}

func (c *Controller) deleteAcls(p Proposer, m *kmsg.DeleteACLsRequest) kmsg.Response {
	resp := kmsg.NewPtrDeleteACLsResponse()
	resp.Version = m.Version
	b := &budget{RequestRecordsMax}
	all := c.pending.Acls()
	for _, f := range m.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		filter := acl.Filter{Type: acl.ResourceType(f.ResourceType), Name: f.ResourceName, Pattern: acl.PatternType(f.ResourcePatternType),
			Principal: f.Principal, Host: f.Host, Operation: acl.Operation(f.Operation), Permission: acl.Permission(f.PermissionType)}
		out := ok()
		if !c.cfg.Authorizer {
			out = fail(errSecurityDisabled, "no authorizer: set authorizer.class.name")
		} else if why := filter.Validate(); why != "" {
			out = fail(errInvalidRequest, why)
		}
		if out.failed() {
			r.ErrorCode, r.ErrorMessage = out.code, out.message()
			resp.Results = append(resp.Results, r)
			continue
		}
		var recs []metadata.Record
		for _, bd := range all {
			if filter.Matches(bd) && c.pending.HasAcl(bd) {
				recs = append(recs, metadata.RemoveAcl{Binding: bd})
				r.MatchingACLs = append(r.MatchingACLs, kmsg.DeleteACLsResponseResultMatchingACL{
					ResourceType: kmsg.ACLResourceType(bd.Type), ResourceName: bd.Name, ResourcePatternType: kmsg.ACLResourcePatternType(bd.Pattern),
					Principal: bd.Principal, Host: bd.Host, Operation: kmsg.ACLOperation(bd.Operation), PermissionType: kmsg.ACLPermissionType(bd.Permission)})
			}
		}
		if out = c.spend(p, b, recs); out.failed() {
			r.MatchingACLs = nil
		}
		r.ErrorCode, r.ErrorMessage = out.code, out.message()
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// aclsHeld reports whether no broker can authorize below offset any more.
func (c *Controller) aclsHeld(offset int64) bool {
	if c.cfg.Plants.On(plant.AclAckEarly) {
		return true
	}
	held := true
	c.pending.EachBroker(func(id int32, fenced bool) {
		if !fenced && c.reported[id] < offset && c.now < c.leaseGoneAt(id) {
			held = false
		}
	})
	return held
}

// aclDeadline is when a held ACL response may next be released for want of a lease
// ending: the earliest lease end of a lagging broker.
func (c *Controller) aclDeadline() int64 {
	at := int64(math.MaxInt64)
	for _, w := range c.aclWaiting {
		c.pending.EachBroker(func(id int32, fenced bool) {
			if !fenced && c.reported[id] < w.offset {
				at = min(at, c.leaseGoneAt(id))
			}
		})
	}
	return at
}

// releaseAcls releases the held ACL responses the brokers now hold.
func (c *Controller) releaseAcls() {
	kept := c.aclWaiting[:0]
	for _, w := range c.aclWaiting {
		if c.aclsHeld(w.offset) {
			c.ready = append(c.ready, Response{ID: w.id, Msg: w.resp})
		} else {
			kept = append(kept, w)
		}
	}
	c.aclWaiting = kept
}

// aclRequestOf rebuilds the shape of the request an ACL response answers, so that
// errorResponse can fail each of its items.
func aclRequestOf(resp kmsg.Response) kmsg.Request {
	switch r := resp.(type) {
	case *kmsg.CreateACLsResponse:
		req := kmsg.NewPtrCreateACLsRequest()
		req.Version = r.Version
		req.Creations = make([]kmsg.CreateACLsRequestCreation, len(r.Results))
		return req
	case *kmsg.DeleteACLsResponse:
		req := kmsg.NewPtrDeleteACLsRequest()
		req.Version = r.Version
		req.Filters = make([]kmsg.DeleteACLsRequestFilter, len(r.Results))
		return req
	}
	panic("controller: not an ACL response")
}
