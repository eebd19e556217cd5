package kafka

// DescribeClientQuotas, key 48, versions 0-1.
//
// Answered from the broker's image after a read barrier, so an acknowledged
// AlterClientQuotas shows. Filters as Kafka's: each component names an entity type
// ("user" or "client-id", each once) and matches a name exactly (0), the default entity
// (1) or any entity of that type, the default included (2); an entity matches when every
// component does, and, with strict, has no entity type beyond the components'. A bad
// filter fails the whole request with INVALID_REQUEST. Authorization: DESCRIBE_CONFIGS on
// the cluster. Entities come sorted (user, then client id; defaults first), their values
// by key.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeClientQuotas lists the quotas of the entities the filter matches.
func DescribeClientQuotas(v View, req *kmsg.DescribeClientQuotasRequest) *kmsg.DescribeClientQuotasResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	resp.SetVersion(req.GetVersion())
	if code := v.CheckCluster(acl.OpDescribeConfigs); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	match, why := quotaFilter(req)
	if why != "" {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, message(why)
		return resp
	}
	for _, e := range v.Image.QuotaEntities() {
		if !match(e) {
			continue
		}
		en := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range e.Parts() {
			en.Entity = append(en.Entity, kmsg.DescribeClientQuotasResponseEntryEntity{Type: p.Type, Name: p.Name})
		}
		for _, q := range v.Image.ClientQuotas(e) {
			en.Values = append(en.Values, kmsg.DescribeClientQuotasResponseEntryValue{Key: q.Key, Value: q.Value})
		}
		resp.Entries = append(resp.Entries, en)
	}
	return resp
}

// quotaComponent is one filter component: present says the component exists; kind is
// the match type; name the exact name.
type quotaComponent struct {
	present bool
	kind    kmsg.QuotasMatchType
	name    string
}

func (c quotaComponent) matches(has bool, name string) bool {
	if !c.present {
		return true
	}
	if !has {
		return false
	}
	switch c.kind {
	case 0:
		return name == c.name
	case 1:
		return name == ""
	}
	return true
}

// quotaFilter turns the request's components into a predicate, or explains why it is
// malformed.
func quotaFilter(req *kmsg.DescribeClientQuotasRequest) (func(metadata.QuotaEntity) bool, string) {
	var user, client quotaComponent
	for _, c := range req.Components {
		var dst *quotaComponent
		switch c.EntityType {
		case metadata.QuotaTypeUser:
			dst = &user
		case metadata.QuotaTypeClientID:
			dst = &client
		default:
			return nil, "unsupported quota entity type " + c.EntityType
		}
		if dst.present {
			return nil, "entity type " + c.EntityType + " filtered twice"
		}
		switch c.MatchType {
		case 0:
			if c.Match == nil || *c.Match == "" {
				return nil, "an exact match needs a name"
			}
			*dst = quotaComponent{present: true, kind: 0, name: *c.Match}
		case 1, 2:
			if c.Match != nil {
				return nil, "a default or any match takes no name"
			}
			*dst = quotaComponent{present: true, kind: c.MatchType}
		default:
			return nil, "unknown match type"
		}
	}
	strict := req.Strict
	return func(e metadata.QuotaEntity) bool {
		if strict && ((e.HasUser && !user.present) || (e.HasClientID && !client.present)) {
			return false
		}
		return user.matches(e.HasUser, e.User) && client.matches(e.HasClientID, e.ClientID)
	}, ""
}
