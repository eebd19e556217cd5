// Package sasl holds the server side of the SASL mechanisms seedlog's client listeners
// accept (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, RFC 5802 and RFC 7677 as Kafka uses
// them), and the client side the simulator speaks. Both are pure: the caller hands in
// every nonce, so a seeded run replays exactly.
package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// Mechanism is a SCRAM mechanism, numbered as Kafka's ScramMechanism (the values appear
// in DescribeUserScramCredentials and AlterUserScramCredentials and in metadata records).
type Mechanism int8

const (
	ScramSHA256 Mechanism = 1
	ScramSHA512 Mechanism = 2
)

// Mechanisms lists every SCRAM mechanism, strongest first.
var Mechanisms = []Mechanism{ScramSHA512, ScramSHA256}

// Names of the SASL mechanisms, as SaslHandshake carries them.
const (
	NamePlain       = "PLAIN"
	NameScramSHA256 = "SCRAM-SHA-256"
	NameScramSHA512 = "SCRAM-SHA-512"
)

// Bounds on a stored credential (Kafka's iteration bounds; a salt longer than any tool
// makes is refused rather than stored).
const (
	IterationsMin = 4096
	IterationsMax = 16384
	SaltBytesMax  = 128
	// UserBytesMax bounds a user name, here and in the metadata records.
	UserBytesMax = 255
	// PasswordBytesMax bounds a PLAIN password, so that a client cannot make the node
	// hash megabytes.
	PasswordBytesMax = 1024
)

// Valid reports whether m is a known mechanism.
func (m Mechanism) Valid() bool { return m == ScramSHA256 || m == ScramSHA512 }

// String is the mechanism's SASL name.
func (m Mechanism) String() string {
	switch m {
	case ScramSHA256:
		return NameScramSHA256
	case ScramSHA512:
		return NameScramSHA512
	}
	return "SCRAM(" + strconv.Itoa(int(m)) + ")"
}

// MechanismNamed returns the SCRAM mechanism of a SASL name.
func MechanismNamed(name string) (Mechanism, bool) {
	switch name {
	case NameScramSHA256:
		return ScramSHA256, true
	case NameScramSHA512:
		return ScramSHA512, true
	}
	return 0, false
}

func (m Mechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// KeyBytes is the size of the mechanism's keys and proofs.
func (m Mechanism) KeyBytes() int {
	if m == ScramSHA512 {
		return sha512.Size
	}
	return sha256.Size
}

// Credential is what the cluster stores for one user and mechanism: never the password,
// only what proves knowledge of it (RFC 5802 section 3).
type Credential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// SaltedPassword is Hi(password, salt, iterations), what a client sends in
// AlterUserScramCredentials instead of the password.
func SaltedPassword(m Mechanism, password string, salt []byte, iterations int) []byte {
	k, err := pbkdf2.Key(m.hash(), password, salt, iterations, m.KeyBytes())
	if err != nil {
		// Key fails only for parameters FIPS mode refuses; the bounds above stay clear.
		panic("sasl: pbkdf2: " + err.Error())
	}
	return k
}

// Derive returns the stored credential for a salted password.
func Derive(m Mechanism, salted, salt []byte, iterations int32) Credential {
	clientKey := mac(m, salted, "Client Key")
	h := m.hash()()
	h.Write(clientKey)
	return Credential{Salt: append([]byte(nil), salt...), StoredKey: h.Sum(nil),
		ServerKey: mac(m, salted, "Server Key"), Iterations: iterations}
}

func mac(m Mechanism, key []byte, msg string) []byte {
	h := hmac.New(m.hash(), key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Matches reports whether password is the one c was derived from: what a PLAIN
// authentication checks against a stored SCRAM credential.
func (c Credential) Matches(m Mechanism, password string) bool {
	if int(c.Iterations) < IterationsMin || c.Iterations > IterationsMax {
		return false
	}
	d := Derive(m, SaltedPassword(m, password, c.Salt, int(c.Iterations)), c.Salt, c.Iterations)
	return subtle.ConstantTimeCompare(d.StoredKey, c.StoredKey) == 1
}

// ErrFailed is every failed authentication: bad credentials and malformed exchanges
// alike, so that an answer tells a stranger nothing about which users exist.
var ErrFailed = errors.New("authentication failed")

// ErrMalformed wraps a message that does not parse; it is also an ErrFailed.
var ErrMalformed = errors.New("malformed SASL message")

func malformed(why string) error {
	return errors.Join(ErrFailed, errors.New(ErrMalformed.Error()+": "+why))
}

// Limits of one SCRAM message: a client's messages carry a user name, a nonce and a
// proof; nothing legitimate comes near these.
const (
	messageBytesMax = 4096
	nonceBytesMax   = 256
)

// ServerState is where a server exchange stands.
type ServerState uint8

const (
	AwaitClientFirst ServerState = iota
	AwaitClientFinal
	Finished
)

// ScramServer is the server side of one SCRAM exchange: ClientFirst, then (once the
// caller has looked the user up) ServerFirst, then ClientFinal.
type ScramServer struct {
	m     Mechanism
	state ServerState
	user  string
	// clientFirstBare and serverFirst are kept for the AuthMessage.
	clientFirstBare string
	serverFirst     string
	nonce           string // the client's nonce followed by the server's
	serverNonce     string // the server's part
	cred            Credential
	known           bool
}

// NewScramServer starts an exchange of mechanism m.
func NewScramServer(m Mechanism) *ScramServer { return &ScramServer{m: m} }

// Mechanism is the exchange's mechanism.
func (s *ScramServer) Mechanism() Mechanism { return s.m }

// State is where the exchange stands.
func (s *ScramServer) State() ServerState { return s.state }

// User is the user the client named in its first message.
func (s *ScramServer) User() string { return s.user }

// ClientFirst parses the client's first message and returns the user it names.
func (s *ScramServer) ClientFirst(msg []byte) (string, error) {
	if s.state != AwaitClientFirst {
		return "", malformed("client-first out of order")
	}
	s.state = Finished // until it parses
	if len(msg) > messageBytesMax {
		return "", malformed("client-first too long")
	}
	text := string(msg)
	// gs2 header: no channel binding ("n") and no authorization identity, or one equal
	// to the user (checked below).
	rest, ok := strings.CutPrefix(text, "n,")
	if !ok {
		return "", malformed("channel binding is not supported")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return "", malformed("no gs2 header")
	}
	attrs, err := parseAttrs(bare)
	if err != nil {
		return "", err
	}
	if len(attrs) < 2 || attrs[0].k != 'n' || attrs[1].k != 'r' {
		return "", malformed("client-first wants n= then r=")
	}
	for _, a := range attrs[2:] {
		if a.k == 'm' {
			return "", malformed("mandatory extension not supported")
		}
		// Other extensions (Kafka's tokenauth among them) are refused: seedlog has no
		// delegation tokens.
		return "", malformed("extension " + string(a.k) + " not supported")
	}
	user, err := decodeName(attrs[0].v)
	if err != nil {
		return "", err
	}
	if user == "" || len(user) > UserBytesMax {
		return "", malformed("user name empty or too long")
	}
	if authz != "" {
		az, ok := strings.CutPrefix(authz, "a=")
		if name, err := decodeName(az); !ok || err != nil || name != user {
			return "", malformed("authorization identity differs from the user")
		}
	}
	cnonce := attrs[1].v
	if err := checkNonce(cnonce); err != nil {
		return "", err
	}
	s.user, s.clientFirstBare, s.nonce = user, bare, cnonce
	s.state = AwaitClientFinal
	return user, nil
}

// ServerFirst answers the client's first message. cred is the user's credential, known
// false when there is none: the exchange then goes on with an invented salt and fails
// at the proof, as a wrong password does. serverNonce is fresh randomness from the
// caller (at least 16 bytes); saltKey is a secret the caller keeps for as long as it
// can, from which invented salts are derived.
func (s *ScramServer) ServerFirst(cred Credential, known bool, serverNonce, saltKey []byte) []byte {
	if s.state != AwaitClientFinal || s.serverFirst != "" {
		panic("sasl: ServerFirst out of order")
	}
	s.cred, s.known = cred, known
	if !known {
		// An unknown user gets an answer of the same shape, with a salt that stays the
		// same while saltKey does, and fails where a wrong password does (Kafka refuses
		// unknown users at once, which tells a stranger which users exist).
		s.cred = Credential{Salt: mac(s.m, saltKey, "salt:"+s.user)[:16], Iterations: IterationsMin}
	}
	s.serverNonce = base64.RawURLEncoding.EncodeToString(serverNonce)
	s.nonce += s.serverNonce
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) +
		",i=" + strconv.Itoa(int(s.cred.Iterations))
	return []byte(s.serverFirst)
}

// ClientFinal checks the client's proof and returns the server's final message, which
// proves to the client that the server holds the credential.
func (s *ScramServer) ClientFinal(msg []byte) ([]byte, error) {
	if s.state != AwaitClientFinal || s.serverFirst == "" {
		return nil, malformed("client-final out of order")
	}
	s.state = Finished
	if len(msg) > messageBytesMax {
		return nil, malformed("client-final too long")
	}
	text := string(msg)
	i := strings.LastIndex(text, ",p=")
	if i < 0 {
		return nil, malformed("no proof")
	}
	withoutProof := text[:i]
	attrs, err := parseAttrs(text)
	if err != nil {
		return nil, err
	}
	if len(attrs) != 3 || attrs[0].k != 'c' || attrs[1].k != 'r' || attrs[2].k != 'p' {
		return nil, malformed("client-final wants c=, r=, p=")
	}
	// The channel binding echoes the gs2 header; only a header without an authorization
	// identity or with the user's own is accepted above.
	cb, err := base64.StdEncoding.DecodeString(attrs[0].v)
	if err != nil || !validBinding(string(cb), s.user) {
		return nil, malformed("channel binding differs from the gs2 header")
	}
	// The nonce must echo the server's first message. librdkafka before 2.6.1 puts its
	// own nonce in front once more; that form is accepted too (Kafka 3 accepted it): it
	// still carries the server's nonce whole, and the proof covers the message as sent.
	if n := attrs[1].v; n != s.nonce && n != s.nonce[:len(s.nonce)-len(s.serverNonce)]+s.nonce {
		return nil, malformed("nonce differs")
	}
	proof, err := base64.StdEncoding.DecodeString(attrs[2].v)
	if err != nil || len(proof) != s.m.KeyBytes() {
		return nil, malformed("proof of the wrong size")
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	if !s.known || len(s.cred.StoredKey) != s.m.KeyBytes() {
		return nil, errors.Join(ErrFailed, errors.New("unknown user"))
	}
	sig := mac(s.m, s.cred.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	h := s.m.hash()()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 {
		return nil, errors.Join(ErrFailed, errors.New("the proof does not match the stored key"))
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac(s.m, s.cred.ServerKey, authMessage))), nil
}

// validBinding accepts the gs2 headers ClientFirst accepts.
func validBinding(cb, user string) bool {
	if cb == "n,," {
		return true
	}
	az, ok := strings.CutPrefix(cb, "n,a=")
	if !ok {
		return false
	}
	az, ok = strings.CutSuffix(az, ",")
	name, err := decodeName(az)
	return ok && err == nil && name == user
}

type attr struct {
	k byte
	v string
}

// parseAttrs splits k=v,k=v into its attributes.
func parseAttrs(s string) ([]attr, error) {
	var out []attr
	for part := range strings.SplitSeq(s, ",") {
		if len(part) < 2 || part[1] != '=' || part[0] < 'a' || part[0] > 'z' {
			return nil, malformed("attribute " + strconv.Quote(truncate(part)))
		}
		if len(out) == 8 {
			return nil, malformed("too many attributes")
		}
		out = append(out, attr{part[0], part[2:]})
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// decodeName undoes the saslname escaping of RFC 5802: =2C is a comma and =3D an equals
// sign; any other = is an error.
func decodeName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformed("bad escape in a user name")
		}
		i += 2
	}
	return b.String(), nil
}

// encodeName is the escaping decodeName undoes.
func encodeName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// checkNonce accepts printable ASCII except the comma, as RFC 5802 does.
func checkNonce(n string) error {
	if n == "" || len(n) > nonceBytesMax {
		return malformed("nonce empty or too long")
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == ',' {
			return malformed("nonce with a forbidden byte")
		}
	}
	return nil
}
