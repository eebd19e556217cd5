package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/seedlog/seedlog/core/sasl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The credentials client (DataConfig.CredentialInterval) works the SASL path the way
// an operator and applications do. Every ~interval of the safety phase it does one of:
//
//   - set a user's SCRAM credential of one mechanism to a new password, or remove it
//     (AlterUserScramCredentials, through any broker, which forwards it);
//   - authenticate as a user on a new connection to a broker's SASL listener, by PLAIN
//     or a SCRAM mechanism, with the latest password it set, an older one, or a wrong
//     one.
//
// Each is one operation of the history; credcheck.go checks that every answer is one
// the credentials in force at some moment of the operation explain.

// saslListener is the nodes' SASL_PLAINTEXT listener in runs with a credentials client.
const saslListener = "SASL"

// SaslHandshake's and SaslAuthenticate's API keys.
const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// credentialUsers are the users the client works with.
var credentialUsers = []string{"ann", "bob", "cy"}

// authMechanisms are the mechanisms it authenticates with.
var authMechanisms = []string{sasl.NameScramSHA256, sasl.NameScramSHA512, sasl.NamePlain}

// fillEntropy fills b from rng (a node's SCRAM nonces in the simulator).
func fillEntropy(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

type credentials struct {
	c    *Client // the operations' client: admin requests on the first listener
	sasl *Client // its connections to the SASL listeners
	// passwords are the passwords set for each user and mechanism, oldest first.
	passwords map[string][]string
	next      int
	busy      bool
	// salted caches salted passwords (PBKDF2 is the costly part of SCRAM), by
	// mechanism, password, salt and iterations.
	salted map[string][]byte
	// authed is the user the open SASL connection to each node (by node id - 1)
	// authenticated as, "" for none; accesses reuse it.
	authed []string
}

func (w *World) startCredentials() *credentials {
	c := w.addClient(roleCredentials)
	c.interval = w.cfg.Data.CredentialInterval
	c.desc = "the credentials client (it sets and removes SCRAM credentials and authenticates)"
	s := w.addClient(roleSASL)
	s.listener = saslListener
	s.desc = "the credentials client's connections to the SASL listeners"
	cr := &credentials{c: c, sasl: s, passwords: map[string][]string{}, salted: map[string][]byte{}, authed: make([]string, len(w.nodes))}
	c.act = cr.tick
	c.onStep = cr.step
	c.scheduleNext()
	return cr
}

func (cr *credentials) tick() {
	c := cr.c
	w := c.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	if cr.busy {
		c.scheduleNext()
		return
	}
	st := cr.draw()
	if s := w.script; s != nil {
		planned := s.turn(c, StepSetCredential, StepDeleteCredential, StepAuthenticate, StepAclChange, StepAccess)
		if planned == nil {
			c.scheduleNext()
			return
		}
		st = *planned
	}
	cr.busy = true
	cr.run(&st, true)
}

// draw picks the next operation.
func (cr *credentials) draw() Step {
	c := cr.c
	rng := c.rng
	user := credentialUsers[rng.IntN(len(credentialUsers))]
	if c.w.cfg.Data.Authorizer && rng.IntN(2) == 0 {
		return cr.drawAcl(user)
	}
	scram := []string{sasl.NameScramSHA256, sasl.NameScramSHA512}[rng.IntN(2)]
	switch x := rng.IntN(10); {
	case x < 2:
		cr.next++
		return Step{Kind: StepSetCredential, Client: c.id, User: user, Mechanism: scram, Password: fmt.Sprintf("pw%d", cr.next)}
	case x < 3:
		return Step{Kind: StepDeleteCredential, Client: c.id, User: user, Mechanism: scram}
	}
	mech := scram
	if rng.IntN(6) == 0 {
		mech = sasl.NamePlain // PBKDF2 on the node at every attempt: rarer
	}
	st := Step{Kind: StepAuthenticate, Client: c.id, User: user, Mechanism: mech, Password: "wrong",
		Node: c.randomBroker()}
	var known []string
	if mech == sasl.NamePlain {
		known = append(cr.passwords[user+" "+sasl.NameScramSHA256], cr.passwords[user+" "+sasl.NameScramSHA512]...)
	} else {
		known = cr.passwords[user+" "+mech]
	}
	switch x := rng.IntN(10); {
	case len(known) == 0 || x == 0:
	case x < 7:
		st.Password = known[len(known)-1]
	default:
		st.Password = known[rng.IntN(len(known))]
	}
	return st
}

// step starts a scheduled operation.
func (cr *credentials) step(st *Step) string {
	if cr.busy {
		return stepBusy
	}
	cr.busy = true
	cr.run(st, false)
	return ""
}

// run performs st; turn says a generator's turn started it.
func (cr *credentials) run(st *Step, turn bool) {
	c := cr.c
	w := c.w
	w.recordStep(Step{Kind: st.Kind, Client: c.id, User: st.User, Mechanism: st.Mechanism, Password: st.Password, Node: st.Node,
		Acl: st.Acl, Delete: st.Delete, Access: st.Access, AccessNode: st.AccessNode})
	done := func() {
		cr.busy = false
		if turn {
			c.scheduleNext()
		}
		if s := w.script; s != nil {
			s.freed(c)
		}
	}
	op := &Op{Kind: OpSetCredential, User: st.User, Mechanism: st.Mechanism, Password: st.Password, Producer: -1}
	switch st.Kind {
	case StepAclChange:
		cr.changeAcl(&Op{Kind: OpAclChange, User: st.User, Acl: st.Acl, Delete: st.Delete, Producer: -1}, st.Node, func(changed bool) {
			if !changed || st.Access == "" {
				done()
				return
			}
			// An access of the same user right after the answer, on a connection
			// that authenticated before: where a broker still deciding on the old
			// bindings shows.
			cr.access(&Op{Kind: OpAccess, User: st.User, Access: st.Access, Password: st.Password, Producer: -1}, st.AccessNode, done)
		})
		return
	case StepAccess:
		cr.access(&Op{Kind: OpAccess, User: st.User, Access: st.Access, Password: st.Password, Producer: -1}, st.Node, done)
		return
	case StepDeleteCredential:
		op.Kind = OpDeleteCredential
	case StepAuthenticate:
		op.Kind = OpAuthenticate
		cr.authenticate(op, st.Node, done)
		return
	}
	cr.alter(op, done)
}

// alter sets or removes a credential.
func (cr *credentials) alter(op *Op, done func()) {
	c := cr.c
	w := c.w
	mech, ok := sasl.MechanismNamed(op.Mechanism)
	if !ok {
		w.fail("client", -1, "client %d: credential step with mechanism %q", c.id, op.Mechanism)
		return
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	if op.Kind == OpDeleteCredential {
		req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: op.User, Mechanism: int8(mech)}}
	} else {
		salt := make([]byte, 12)
		fillEntropy(c.rng, salt)
		req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{{Name: op.User, Mechanism: int8(mech),
			Iterations: sasl.IterationsMin, Salt: salt, SaltedPassword: cr.saltedPassword(mech, op.Password, salt, sasl.IterationsMin)}}
	}
	w.invoke(c, op)
	node := c.adminTarget()
	op.Node = node
	c.send(node, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		defer done()
		switch {
		case errors.Is(err, errNotSent):
			op.Code = -1
			w.complete(op, Failed)
			return
		case err != nil:
			w.complete(op, Indeterminate)
			return
		}
		r := resp.(*kmsg.AlterUserSCRAMCredentialsResponse)
		if len(r.Results) != 1 || r.Results[0].User != op.User {
			w.fail("client", node, "client %d: AlterUserScramCredentials for %s answered %+v", c.id, op.User, r.Results)
			return
		}
		switch op.Code = r.Results[0].ErrorCode; op.Code {
		case errNone:
			if op.Kind == OpSetCredential {
				key := op.User + " " + op.Mechanism
				cr.passwords[key] = append(cr.passwords[key], op.Password)
			}
			w.cov.Inc("credentials:" + op.Kind.String())
			w.complete(op, OK)
		case errResourceNotFound:
			w.cov.Inc("credentials:delete-absent")
			w.complete(op, Failed)
		default:
			// NOT_CONTROLLER, REQUEST_TIMED_OUT, THROTTLING_QUOTA_EXCEEDED: the change
			// may have committed all the same.
			w.complete(op, Indeterminate)
		}
	})
}

// saltedPassword is sasl.SaltedPassword, remembered.
func (cr *credentials) saltedPassword(m sasl.Mechanism, password string, salt []byte, iterations int) []byte {
	key := fmt.Sprintf("%d %s %x %d", m, password, salt, iterations)
	if s, ok := cr.salted[key]; ok {
		return s
	}
	s := sasl.SaltedPassword(m, password, salt, iterations)
	cr.salted[key] = s
	return s
}

// authenticate runs one SASL exchange on a new connection to node and closes it after;
// when a connection to node is open and authenticated as the user with SCRAM-SHA-512,
// it re-authenticates on it instead (KIP-368), and keeps it when that succeeds.
func (cr *credentials) authenticate(op *Op, node int32, done func()) {
	w := cr.c.w
	w.invoke(cr.c, op)
	op.Node = node
	cc := cr.sasl.conns[node-1]
	reauth := op.Mechanism == sasl.NameScramSHA512 && cc != nil && !cc.dead && cr.authed[node-1] == op.User
	cr.exchange(node, op.User, op.Mechanism, op.Password, reauth, func(outcome Outcome, code int16) {
		switch {
		case outcome == OK && reauth:
			w.cov.Inc("credentials:reauth-ok")
			op.Code = code
			w.complete(op, outcome)
			done()
			return
		case outcome == OK:
			w.cov.Inc("credentials:auth-ok")
		case code == errSaslAuthenticationFailed:
			w.cov.Inc("credentials:auth-refused")
		case code > 0:
			// REQUEST_TIMED_OUT: the node could not confirm its credentials in time.
			w.cov.Inc("credentials:auth-" + errorName(code))
		}
		cr.hangUp(node)
		op.Code = code
		w.complete(op, outcome)
		done()
	})
}

// hangUp closes the SASL connection to node, if one is open.
func (cr *credentials) hangUp(node int32) {
	cr.authed[node-1] = ""
	if cc := cr.sasl.conns[node-1]; cc != nil && !cc.dead {
		cc.broken()
		cr.c.w.breakLink(cc.link.id, false)
	}
}

// exchange authenticates on a new connection to node (reauth: again, on the open one)
// and calls done with how it went: OK, Failed (code -1: never sent, or a session that
// may not re-authenticate; SASL_AUTHENTICATION_FAILED: refused), or Indeterminate. The
// connection stays open for the caller.
func (cr *credentials) exchange(node int32, user, mechanism, password string, reauth bool, done func(Outcome, int16)) {
	c := cr.c
	w := c.w
	s := cr.sasl
	if !reauth {
		cr.hangUp(node)
	}
	// answered ends the exchange on a transport error or an error code; it reports
	// whether the exchange may go on.
	answered := func(err error, code int16) bool {
		switch {
		case errors.Is(err, errNotSent):
			done(Failed, -1)
		case err != nil:
			done(Indeterminate, 0)
		case code == errSaslAuthenticationFailed:
			done(Failed, code)
		case code != errNone:
			done(Indeterminate, code)
		default:
			return true
		}
		return false
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = mechanism
	timeout := w.requestTimeout()
	s.send(node, hs, timeout, func(resp kmsg.Response, err error) {
		if err == nil && reauth && resp.(*kmsg.SASLHandshakeResponse).ErrorCode == errIllegalSaslState {
			// A session that authenticated with SaslAuthenticate v0 may not re-authenticate:
			// the node closes the connection.
			w.cov.Inc("credentials:reauth-refused-v0")
			cr.hangUp(node)
			done(Failed, -1)
			return
		}
		if err == nil && resp.(*kmsg.SASLHandshakeResponse).ErrorCode != errNone {
			w.fail("client", node, "client %d: SaslHandshake %s answered %s", c.id, mechanism, errorName(resp.(*kmsg.SASLHandshakeResponse).ErrorCode))
			return
		}
		if !answered(err, errNone) {
			return
		}
		step := func(msg []byte, then func(*kmsg.SASLAuthenticateResponse)) {
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.SASLAuthBytes = msg
			s.send(node, req, timeout, func(resp kmsg.Response, err error) {
				var code int16
				if err == nil {
					code = resp.(*kmsg.SASLAuthenticateResponse).ErrorCode
				}
				if answered(err, code) {
					then(resp.(*kmsg.SASLAuthenticateResponse))
				}
			})
		}
		if mechanism == sasl.NamePlain {
			step(sasl.PlainMessage(user, password), func(*kmsg.SASLAuthenticateResponse) { done(OK, errNone) })
			return
		}
		mech, _ := sasl.MechanismNamed(mechanism)
		sc := sasl.NewScramClient(mech, user, password)
		sc.Salted = cr.saltedPassword
		nonce := make([]byte, 12)
		fillEntropy(c.rng, nonce)
		step(sc.First(fmt.Sprintf("%x", nonce)), func(r *kmsg.SASLAuthenticateResponse) {
			final, err := sc.Final(r.SASLAuthBytes)
			if err != nil {
				w.fail("client", node, "client %d: the node's server-first message: %v", c.id, err)
				return
			}
			step(final, func(r *kmsg.SASLAuthenticateResponse) {
				if err := sc.Verify(r.SASLAuthBytes); err != nil {
					w.fail("client", node, "client %d: authenticated by a node that does not hold %s's credential: %v", c.id, user, err)
					return
				}
				done(OK, errNone)
			})
		})
	})
}
