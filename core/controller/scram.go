package controller

import (
	"fmt"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/sasl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// saltedPasswordBytesMax bounds a salted password: clients send one hash's worth.
const saltedPasswordBytesMax = 128

// scramChange is one deletion or upsertion of AlterUserScramCredentials.
type scramChange struct {
	user   string
	mech   sasl.Mechanism
	delete bool
	cred   sasl.Credential
	salted []byte
}

// alterScram answers AlterUserScramCredentials: one result per user named, in the order
// users first appear. A user's changes apply all or none.
func (c *Controller) alterScram(p Proposer, m *kmsg.AlterUserSCRAMCredentialsRequest) kmsg.Response {
	resp := kmsg.NewPtrAlterUserSCRAMCredentialsResponse()
	resp.Version = m.Version
	var users []string
	byUser := map[string][]scramChange{}
	add := func(ch scramChange) {
		if _, seen := byUser[ch.user]; !seen {
			users = append(users, ch.user)
		}
		byUser[ch.user] = append(byUser[ch.user], ch)
	}
	for _, d := range m.Deletions {
		add(scramChange{user: d.Name, mech: sasl.Mechanism(d.Mechanism), delete: true})
	}
	for _, u := range m.Upsertions {
		add(scramChange{user: u.Name, mech: sasl.Mechanism(u.Mechanism), salted: u.SaltedPassword,
			cred: sasl.Credential{Salt: u.Salt, Iterations: u.Iterations}})
	}
	b := &budget{RequestRecordsMax}
	for _, user := range users {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		recs, out := c.scramRecords(user, byUser[user])
		if !out.failed() {
			out = c.spend(p, b, recs)
		}
		r.ErrorCode, r.ErrorMessage = out.code, out.message()
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// scramRecords validates one user's changes and returns their records.
func (c *Controller) scramRecords(user string, changes []scramChange) ([]metadata.Record, outcome) {
	if err := metadata.ValidScramUser(user); err != nil {
		return nil, fail(errUnacceptableCredential, err.Error())
	}
	seen := map[sasl.Mechanism]bool{}
	var recs []metadata.Record
	for _, ch := range changes {
		if !ch.mech.Valid() {
			return nil, fail(errUnsupportedSaslMechanism, fmt.Sprintf("unknown SCRAM mechanism %d", ch.mech))
		}
		if seen[ch.mech] {
			return nil, fail(errDuplicateResource, fmt.Sprintf("%s of %q altered twice in one request", ch.mech, user))
		}
		seen[ch.mech] = true
		if ch.delete {
			if _, found := c.pending.ScramCredential(user, ch.mech); !found {
				return nil, fail(errResourceNotFound, fmt.Sprintf("%q has no %s credential", user, ch.mech))
			}
			recs = append(recs, metadata.RemoveScram{User: user, Mechanism: ch.mech})
			continue
		}
		it := ch.cred.Iterations
		switch {
		case it < sasl.IterationsMin || it > sasl.IterationsMax:
			return nil, fail(errUnacceptableCredential, fmt.Sprintf("%d iterations; use %d to %d", it, sasl.IterationsMin, sasl.IterationsMax))
		case len(ch.cred.Salt) == 0 || len(ch.cred.Salt) > sasl.SaltBytesMax:
			return nil, fail(errUnacceptableCredential, fmt.Sprintf("salt of %d bytes; use 1 to %d", len(ch.cred.Salt), sasl.SaltBytesMax))
		case len(ch.salted) == 0 || len(ch.salted) > saltedPasswordBytesMax:
			return nil, fail(errUnacceptableCredential, fmt.Sprintf("salted password of %d bytes", len(ch.salted)))
		}
		d := sasl.Derive(ch.mech, ch.salted, ch.cred.Salt, it)
		recs = append(recs, metadata.ScramCredential{User: user, Mechanism: ch.mech, Salt: d.Salt,
			StoredKey: d.StoredKey, ServerKey: d.ServerKey, Iterations: it})
	}
	im := c.pending
	for _, rec := range recs {
		next, err := im.Apply(im.Offset()+1, rec)
		if err != nil {
			return nil, fail(errUnacceptableCredential, err.Error())
		}
		im = next
	}
	return recs, ok()
}
