package core

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/sasl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's security protocol codes, as listeners register them.
const (
	protocolSASLPlaintext int16 = 2
	protocolSASLSSL       int16 = 3
)

// EntropyBytes is how much fresh randomness a SaslAuthenticate request carries
// (Request.Entropy): a SCRAM server nonce, then a key that only the node sees.
const (
	EntropyBytes = 2 * nonceBytes
	nonceBytes   = 18
)

// connAuth is where a connection stands with SASL. A connection on a listener that
// requires SASL serves nothing but ApiVersions, SaslHandshake and SaslAuthenticate until
// it authenticated, and closes on the first request after its session expired.
type connAuth struct {
	// mech is the mechanism of the exchange under way or of the session; exchanging
	// says a handshake chose it and SaslAuthenticate steps are expected.
	mech       string
	exchanging bool
	// busy is set while a step waits for the read barrier.
	busy  bool
	scram *sasl.ScramServer
	// user is the authenticated user ("" before authentication); it may not change on
	// re-authentication.
	user string
	// reauth says the client authenticated with SaslAuthenticate v1+, so it may
	// re-authenticate on this connection (KIP-368).
	reauth bool
	// expiresAt is when the session ends on the node's clock (0: never).
	expiresAt int64
}

// saslRequired reports whether listener l (a request's Listener; empty: the first)
// takes SASL clients.
func (n *Node) saslRequired(l string) bool {
	for _, ls := range n.cfg.Listeners {
		if l == "" || ls.Name == l {
			return ls.SecurityProtocol == protocolSASLPlaintext || ls.SecurityProtocol == protocolSASLSSL
		}
	}
	return false
}

// authGate runs SASL requests and lets through those a connection may send now. It
// returns false when it answered or closed the connection itself.
func (n *Node) authGate(cn *conn, req Request, reply func(kmsg.Response)) bool {
	switch m := req.Msg.(type) {
	case *kmsg.ApiVersionsRequest:
		return true
	case *kmsg.SASLHandshakeRequest:
		n.saslHandshake(cn, req.Conn, m, reply)
		return false
	case *kmsg.SASLAuthenticateRequest:
		n.saslAuthenticate(cn, req, m, reply)
		return false
	}
	if !cn.saslRequired {
		return true
	}
	a := &cn.auth
	switch {
	case a.user == "":
		n.closeConn(req.Conn, "a request before SASL authentication")
		return false
	case a.expiresAt != 0 && n.now >= a.expiresAt:
		n.closeConn(req.Conn, "SASL session expired")
		return false
	}
	return true
}

// EnabledMechanisms are the SASL mechanisms the node accepts, in the order SaslHandshake
// lists them.
func (c *Config) EnabledMechanisms() []string {
	if len(c.SASLMechanisms) == 0 {
		return []string{sasl.NameScramSHA512, sasl.NameScramSHA256, sasl.NamePlain}
	}
	return c.SASLMechanisms
}

func (n *Node) saslHandshake(cn *conn, id ConnID, m *kmsg.SASLHandshakeRequest, reply func(kmsg.Response)) {
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.Version = m.Version
	mechs := n.cfg.EnabledMechanisms()
	a := &cn.auth
	refuse := func(code int16, why string) {
		resp.ErrorCode = code
		reply(resp)
		n.closeConn(id, why)
	}
	switch {
	case !cn.saslRequired:
		refuse(kerr.IllegalSaslState.Code, "SaslHandshake on a listener without SASL")
	case a.exchanging || a.busy:
		refuse(kerr.IllegalSaslState.Code, "SaslHandshake in the middle of an exchange")
	case a.user != "" && !a.reauth:
		refuse(kerr.IllegalSaslState.Code, "re-authentication after SaslAuthenticate v0")
	case !slices.Contains(mechs, m.Mechanism):
		resp.SupportedMechanisms = mechs
		refuse(kerr.UnsupportedSaslMechanism.Code, "SASL mechanism not enabled")
	case a.user != "" && m.Mechanism != a.mech:
		refuse(kerr.IllegalSaslState.Code, "re-authentication with another mechanism")
	default:
		resp.SupportedMechanisms = mechs
		a.mech, a.exchanging, a.scram = m.Mechanism, true, nil
		reply(resp)
	}
}

func (n *Node) saslAuthenticate(cn *conn, req Request, m *kmsg.SASLAuthenticateRequest, reply func(kmsg.Response)) {
	a := &cn.auth
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.Version = m.Version
	fail := func(code int16, why string) {
		resp.ErrorCode = code
		msg := why
		resp.ErrorMessage = &msg
		reply(resp)
		a.exchanging, a.busy = false, false
		n.closeConn(req.Conn, why)
	}
	if !a.exchanging || a.busy {
		fail(kerr.IllegalSaslState.Code, "SaslAuthenticate without a handshake, or before the last step was answered")
		return
	}
	// refuse answers every failed authentication alike; the reason goes to the node's
	// notes (its log), not to the client.
	refuse := func(user string, err error) {
		n.note("sasl-refused", fmt.Sprintf("user %q with %s: %v", user, a.mech, err))
		fail(kerr.SaslAuthenticationFailed.Code, "authentication failed: invalid credentials with SASL mechanism "+a.mech)
	}
	if a.mech == sasl.NamePlain {
		user, password, err := sasl.ParsePlain(m.SASLAuthBytes)
		if err != nil {
			refuse(user, err)
			return
		}
		n.withCurrentImage(a, fail, func() {
			if !n.plainBudget.take(n.now) {
				n.note("sasl-refused", fmt.Sprintf("user %q with PLAIN: more than %d password checks a second", user, plainChecksPerSecond))
				fail(kerr.ThrottlingQuotaExceeded.Code, "too many PLAIN authentications at once; retry")
				return
			}
			if !n.plainMatches(user, password) {
				refuse(user, errors.New("no credential of the user matches the password"))
				return
			}
			n.authenticated(cn, user, resp, reply, fail)
		})
		return
	}
	mech, _ := sasl.MechanismNamed(a.mech)
	if a.scram == nil {
		a.scram = sasl.NewScramServer(mech)
		user, err := a.scram.ClientFirst(m.SASLAuthBytes)
		if err != nil {
			refuse(user, err)
			return
		}
		n.withCurrentImage(a, fail, func() {
			cred, known := n.quorum.image.ScramCredential(user, mech)
			if n.saltKey == nil {
				n.saltKey = append([]byte(nil), req.Entropy[nonceBytes:]...)
			}
			resp.SASLAuthBytes = a.scram.ServerFirst(cred, known, req.Entropy[:nonceBytes], n.saltKey)
			reply(resp)
		})
		return
	}
	final, err := a.scram.ClientFinal(m.SASLAuthBytes)
	if err != nil {
		refuse(a.scram.User(), err)
		return
	}
	resp.SASLAuthBytes = final
	n.authenticated(cn, a.scram.User(), resp, reply, fail)
}

// withCurrentImage runs check once the broker's image holds every credential change
// committed before now (a read barrier), so that a password changed or removed, and
// acknowledged, never authenticates again on a broker that lags; when the barrier
// cannot pass in time, the exchange fails with a code clients retry.
func (n *Node) withCurrentImage(a *connAuth, fail func(int16, string), check func()) {
	if n.cfg.Plants.On(plant.AuthStaleImage) {
		check()
		return
	}
	a.busy = true
	n.rpc.readBarrier(n, func(ok bool) {
		a.busy = false
		if !ok {
			fail(kerr.RequestTimedOut.Code, "could not confirm credentials with the controller in time; retry")
			return
		}
		check()
	})
}

// plainChecksPerSecond bounds the PLAIN password checks a node makes: each is a PBKDF2
// of up to 16384 iterations on the node's one loop, so a stranger who knows a user name
// could otherwise stall every other request with logins.
const plainChecksPerSecond = 50

// tokenBucket allows n events a second, in bursts of at most n, on the node's clock.
type tokenBucket struct {
	tokens float64
	at     int64
}

// take spends a token at now, if there is one.
func (b *tokenBucket) take(now int64) bool {
	if b.at == 0 {
		b.tokens, b.at = plainChecksPerSecond, now
	}
	b.tokens = min(plainChecksPerSecond, b.tokens+float64(now-b.at)/1e9*plainChecksPerSecond)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// plainMatches reports whether password is user's under any of its SCRAM credentials.
func (n *Node) plainMatches(user, password string) bool {
	for _, m := range sasl.Mechanisms {
		if c, ok := n.quorum.image.ScramCredential(user, m); ok && c.Matches(m, password) {
			return true
		}
	}
	return false
}

// authenticated ends a successful exchange: the connection now acts as user, until its
// session expires.
func (n *Node) authenticated(cn *conn, user string, resp *kmsg.SASLAuthenticateResponse, reply func(kmsg.Response), fail func(int16, string)) {
	a := &cn.auth
	if a.user != "" && a.user != user {
		fail(kerr.SaslAuthenticationFailed.Code, "re-authentication as another user")
		return
	}
	a.user, a.exchanging, a.scram = user, false, nil
	a.reauth = resp.Version >= 1
	a.expiresAt = 0
	if r := n.cfg.ReauthMax; r > 0 {
		a.expiresAt = n.now + int64(r)
		resp.SessionLifetimeMillis = int64(r / time.Millisecond)
	}
	n.note("sasl-authenticated", user+" with "+a.mech)
	reply(resp)
}
