package controller

import (
	"fmt"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterClientQuotas answers AlterClientQuotas with Kafka's validation: an entity is a
// user, a client id, or both (each type once, nil names for defaults); each key once, one
// of the three quota keys, with a value its type allows. One result per entry; an
// entry's changes apply all or none. A removal of a key that is not set changes nothing,
// as in Kafka.
func (c *Controller) alterClientQuotas(p Proposer, m *kmsg.AlterClientQuotasRequest) kmsg.Response {
	resp := kmsg.NewPtrAlterClientQuotasResponse()
	resp.Version = m.Version
	b := &budget{RequestRecordsMax}
	for _, en := range m.Entries {
		r := kmsg.NewAlterClientQuotasResponseEntry()
		r.Entity = alterQuotaEntity(en.Entity)
		recs, out := quotaRecords(c.pending, en)
		if !out.failed() && !m.ValidateOnly && len(recs) > 0 {
			out = c.spend(p, b, recs)
		}
		r.ErrorCode, r.ErrorMessage = out.code, out.message()
		resp.Entries = append(resp.Entries, r)
	}
	return resp
}

func alterQuotaEntity(parts []kmsg.AlterClientQuotasRequestEntryEntity) []kmsg.AlterClientQuotasResponseEntryEntity {
	out := make([]kmsg.AlterClientQuotasResponseEntryEntity, 0, len(parts))
	for _, p := range parts {
		e := kmsg.NewAlterClientQuotasResponseEntryEntity()
		e.Type, e.Name = p.Type, p.Name
		out = append(out, e)
	}
	return out
}

// quotaRecords validates one entry against im and returns its records.
func quotaRecords(im metadata.Image, en kmsg.AlterClientQuotasRequestEntry) ([]metadata.Record, outcome) {
	parts := make([]metadata.QuotaEntityPart, 0, len(en.Entity))
	for _, p := range en.Entity {
		parts = append(parts, metadata.QuotaEntityPart{Type: p.Type, Name: p.Name})
	}
	e, why := metadata.ParseQuotaEntity(parts)
	if why != "" {
		return nil, fail(errInvalidRequest, why)
	}
	seen := map[string]bool{}
	var recs []metadata.Record
	for _, op := range en.Ops {
		if !metadata.ValidQuotaKey(op.Key) {
			return nil, fail(errInvalidRequest, fmt.Sprintf("unknown quota key %q", op.Key))
		}
		if seen[op.Key] {
			return nil, fail(errInvalidRequest, fmt.Sprintf("quota key %q twice in one entry", op.Key))
		}
		seen[op.Key] = true
		if op.Remove {
			if _, set := im.ClientQuota(e, op.Key); set {
				recs = append(recs, metadata.ClientQuota{Entity: e, Key: op.Key, Remove: true})
			}
			continue
		}
		if why := metadata.ValidQuotaValue(op.Key, op.Value); why != "" {
			return nil, fail(errInvalidRequest, why)
		}
		recs = append(recs, metadata.ClientQuota{Entity: e, Key: op.Key, Value: op.Value})
	}
	next := im
	for _, rec := range recs {
		n, err := next.Apply(next.Offset()+1, rec)
		if err != nil {
			return nil, fail(errInvalidRequest, err.Error())
		}
		next = n
	}
	return recs, ok()
}

func alterClientQuotasError(m *kmsg.AlterClientQuotasRequest, out outcome) kmsg.Response {
	r := kmsg.NewPtrAlterClientQuotasResponse()
	r.Version = m.Version
	for _, en := range m.Entries {
		rr := kmsg.NewAlterClientQuotasResponseEntry()
		rr.Entity, rr.ErrorCode, rr.ErrorMessage = alterQuotaEntity(en.Entity), out.code, out.message()
		r.Entries = append(r.Entries, rr)
	}
	return r
}
