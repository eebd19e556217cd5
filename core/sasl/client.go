package sasl

import (
	"crypto/hmac"
	"encoding/base64"
	"strconv"
	"strings"
)

// ScramClient is the client side of one SCRAM exchange, for the simulator's clients and
// for tests: First, then Final with the server's first message, then Verify with its
// final one. The caller supplies the nonce, so runs replay.
type ScramClient struct {
	m               Mechanism
	user, password  string
	clientFirstBare string
	nonce           string
	serverSignature []byte
	// Salted, when set, replaces SaltedPassword (a caller that remembers them skips
	// the costly part of the exchange).
	Salted func(m Mechanism, password string, salt []byte, iterations int) []byte
}

// NewScramClient starts a client exchange.
func NewScramClient(m Mechanism, user, password string) *ScramClient {
	return &ScramClient{m: m, user: user, password: password}
}

// First is the client's first message; nonce must be printable ASCII without commas.
func (c *ScramClient) First(nonce string) []byte {
	c.nonce = nonce
	c.clientFirstBare = "n=" + encodeName(c.user) + ",r=" + nonce
	c.serverSignature = nil
	return []byte("n,," + c.clientFirstBare)
}

// Final answers the server's first message with the proof.
func (c *ScramClient) Final(serverFirst []byte) ([]byte, error) {
	attrs, err := parseAttrs(string(serverFirst))
	if err != nil {
		return nil, err
	}
	if len(attrs) < 3 || attrs[0].k != 'r' || attrs[1].k != 's' || attrs[2].k != 'i' {
		return nil, malformed("server-first wants r=, s=, i=")
	}
	nonce := attrs[0].v
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return nil, malformed("server nonce does not extend the client's")
	}
	salt, err := base64.StdEncoding.DecodeString(attrs[1].v)
	iters, ierr := strconv.Atoi(attrs[2].v)
	if err != nil || ierr != nil || iters < IterationsMin || iters > IterationsMax {
		return nil, malformed("bad salt or iteration count")
	}
	saltedFn := c.Salted
	if saltedFn == nil {
		saltedFn = SaltedPassword
	}
	salted := saltedFn(c.m, c.password, salt, iters)
	cred := Derive(c.m, salted, salt, int32(iters))
	withoutProof := "c=biws,r=" + nonce
	authMessage := c.clientFirstBare + "," + string(serverFirst) + "," + withoutProof
	sig := mac(c.m, cred.StoredKey, authMessage)
	proof := mac(c.m, salted, "Client Key")
	for i := range proof {
		proof[i] ^= sig[i]
	}
	c.serverSignature = mac(c.m, cred.ServerKey, authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server's final message.
func (c *ScramClient) Verify(serverFinal []byte) error {
	v, ok := strings.CutPrefix(string(serverFinal), "v=")
	sig, err := base64.StdEncoding.DecodeString(v)
	if !ok || err != nil || c.serverSignature == nil || !hmac.Equal(sig, c.serverSignature) {
		return malformed("server signature does not verify")
	}
	return nil
}
