package core

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/sasl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lone is a single-node cluster driven by a test, collecting what it answers.
type lone struct {
	t      *testing.T
	n      *Node
	now    int64
	resps  map[ConnID][]kmsg.Response
	closed map[ConnID]bool
	corr   int32
}

func newLone(t *testing.T, cfg Config) *lone {
	cfg.NodeID, cfg.Voters, cfg.Broker, cfg.Seed = 1, []int32{1}, true, 1
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := &lone{t: t, n: n, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
		resps: map[ConnID][]kmsg.Response{}, closed: map[ConnID]bool{}}
	n.Start(l.now, disk.Recovered{Files: map[string][]byte{}})
	l.run(3 * time.Second)
	return l
}

// run drives the node for d of its clock.
func (l *lone) run(d time.Duration) {
	end := l.now + int64(d)
	for l.now < end {
		out := l.n.Drain()
		if out.Fatal != nil {
			l.t.Fatal(out.Fatal)
		}
		for _, r := range out.Responses {
			if r.Msg != nil {
				l.resps[r.Conn] = append(l.resps[r.Conn], r.Msg)
			}
		}
		for _, c := range out.Close {
			l.closed[c] = true
		}
		if len(out.Ops) > 0 {
			for _, op := range out.Ops {
				l.n.Done(l.now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
			}
		} else {
			l.now = max(l.now+int64(time.Microsecond), min(l.n.Deadline(), end))
			l.n.Tick(l.now)
		}
	}
}

// ask sends req on conn (listener name l) and returns its answer, nil when none came.
func (l *lone) ask(conn ConnID, listener string, req kmsg.Request) kmsg.Response {
	l.corr++
	before := len(l.resps[conn])
	r := Request{Conn: conn, Corr: l.corr, Key: req.Key(), Version: req.GetVersion(), Listener: listener, Msg: req}
	if req.Key() == 36 {
		r.Entropy[0], r.Entropy[1] = byte(l.corr), 7
	}
	l.n.Request(l.now, r)
	l.run(200 * time.Millisecond)
	if len(l.resps[conn]) == before {
		return nil
	}
	return l.resps[conn][len(l.resps[conn])-1]
}

func (l *lone) setPassword(user, password string, m sasl.Mechanism) {
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	salt := []byte("salt-" + user)
	req.Upsertions = append(req.Upsertions, kmsg.AlterUserSCRAMCredentialsRequestUpsertion{Name: user, Mechanism: int8(m),
		Iterations: 4096, Salt: salt, SaltedPassword: sasl.SaltedPassword(m, password, salt, 4096)})
	resp, _ := l.ask(999, "PLAIN", req).(*kmsg.AlterUserSCRAMCredentialsResponse)
	if resp == nil || len(resp.Results) != 1 || resp.Results[0].ErrorCode != 0 {
		l.t.Fatalf("setting %s's password: %+v", user, resp)
	}
}

// scram runs a SCRAM exchange on conn and returns the SaslAuthenticate error code.
func (l *lone) scram(conn ConnID, m sasl.Mechanism, user, password string, version int16) (int16, *kmsg.SASLAuthenticateResponse) {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, m.String()
	if r, _ := l.ask(conn, "SASL", hs).(*kmsg.SASLHandshakeResponse); r == nil || r.ErrorCode != 0 {
		l.t.Fatalf("handshake: %+v", r)
	}
	c := sasl.NewScramClient(m, user, password)
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version, auth.SASLAuthBytes = version, c.First("clientnonce")
	r, _ := l.ask(conn, "SASL", auth).(*kmsg.SASLAuthenticateResponse)
	if r == nil || r.ErrorCode != 0 {
		l.t.Fatalf("client-first: %+v", r)
	}
	final, err := c.Final(r.SASLAuthBytes)
	if err != nil {
		l.t.Fatal(err)
	}
	auth = kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version, auth.SASLAuthBytes = version, final
	r, _ = l.ask(conn, "SASL", auth).(*kmsg.SASLAuthenticateResponse)
	if r == nil {
		l.t.Fatal("no answer to client-final")
	}
	if r.ErrorCode == 0 {
		if err := c.Verify(r.SASLAuthBytes); err != nil {
			l.t.Fatalf("the server's signature: %v", err)
		}
	}
	return r.ErrorCode, r
}

func (l *lone) metadata(conn ConnID) kmsg.Response {
	return l.ask(conn, "SASL", kmsg.NewPtrMetadataRequest())
}

// A SASL listener serves nothing before authentication; SCRAM and PLAIN authenticate
// with the stored credential and refuse anything else; a session ends after
// connections.max.reauth.ms unless the client re-authenticates; a removed credential
// no longer authenticates.
func TestSASLListener(t *testing.T) {
	l := newLone(t, Config{ReauthMax: 10 * time.Second, Listeners: []Listener{
		{Name: "SASL", Host: "h", Port: 1, SecurityProtocol: protocolSASLPlaintext},
		{Name: "PLAIN", Host: "h", Port: 2}}})
	l.setPassword("alice", "pw", sasl.ScramSHA512)

	if r := l.metadata(1); r != nil || !l.closed[1] {
		t.Fatalf("Metadata before authentication: answered %v, closed %v", r, l.closed[1])
	}
	code, r := l.scram(2, sasl.ScramSHA512, "alice", "pw", 1)
	if code != 0 || r.SessionLifetimeMillis != 10_000 {
		t.Fatalf("right password: code %d, session lifetime %d ms", code, r.SessionLifetimeMillis)
	}
	if l.metadata(2) == nil {
		t.Fatal("Metadata after authentication not answered")
	}
	if code, _ := l.scram(3, sasl.ScramSHA512, "alice", "nope", 1); code != kerr.SaslAuthenticationFailed.Code || !l.closed[3] {
		t.Fatalf("wrong password: code %d, closed %v", code, l.closed[3])
	}
	if code, _ := l.scram(4, sasl.ScramSHA512, "mallory", "pw", 1); code != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("unknown user: code %d", code)
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, sasl.NamePlain
	l.ask(5, "SASL", hs)
	plain := kmsg.NewPtrSASLAuthenticateRequest()
	plain.SASLAuthBytes = sasl.PlainMessage("alice", "pw")
	if r, _ := l.ask(5, "SASL", plain).(*kmsg.SASLAuthenticateResponse); r == nil || r.ErrorCode != 0 {
		t.Fatalf("PLAIN with the right password: %+v", r)
	}

	// Re-authentication before the session ends keeps the connection.
	l.run(6 * time.Second)
	if code, _ := l.scram(2, sasl.ScramSHA512, "alice", "pw", 1); code != 0 {
		t.Fatalf("re-authentication: code %d", code)
	}
	l.run(6 * time.Second) // 12 s after the first authentication, 6 s after the second
	if l.metadata(2) == nil || l.closed[2] {
		t.Fatal("a re-authenticated connection was closed")
	}
	// Connection 5 authenticated 12 s ago and did not re-authenticate.
	if l.ask(5, "SASL", kmsg.NewPtrMetadataRequest()) != nil || !l.closed[5] {
		t.Fatal("an expired session was served")
	}

	desc, _ := l.ask(2, "SASL", kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()).(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if desc == nil || len(desc.Results) != 1 || desc.Results[0].User != "alice" ||
		len(desc.Results[0].CredentialInfos) != 1 || desc.Results[0].CredentialInfos[0].Iterations != 4096 {
		t.Fatalf("describe: %+v", desc)
	}
	del := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del.Deletions = append(del.Deletions, kmsg.AlterUserSCRAMCredentialsRequestDeletion{Name: "alice", Mechanism: int8(sasl.ScramSHA512)})
	if r, _ := l.ask(2, "SASL", del).(*kmsg.AlterUserSCRAMCredentialsResponse); r == nil || r.Results[0].ErrorCode != 0 {
		t.Fatalf("deletion: %+v", r)
	}
	if code, _ := l.scram(6, sasl.ScramSHA512, "alice", "pw", 1); code != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("a removed credential authenticated: code %d", code)
	}
	// A listener without SASL serves at once and refuses a handshake.
	if l.ask(7, "PLAIN", kmsg.NewPtrMetadataRequest()) == nil {
		t.Fatal("the PLAINTEXT listener did not answer")
	}
	if r, _ := l.ask(8, "PLAIN", hs).(*kmsg.SASLHandshakeResponse); r == nil || r.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake on a PLAINTEXT listener: %+v", r)
	}
}

// AlterUserScramCredentials refuses what Kafka refuses, per user and all or nothing.
func TestAlterScramRefusals(t *testing.T) {
	l := newLone(t, Config{})
	up := func(name string, m int8, iters int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		return kmsg.AlterUserSCRAMCredentialsRequestUpsertion{Name: name, Mechanism: m, Iterations: iters,
			Salt: []byte("s"), SaltedPassword: make([]byte, 32)}
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		up("few", 1, 100), up("mech", 9, 4096), up("twice", 1, 4096), up("twice", 1, 4096), up("", 1, 4096), up("good", 2, 4096)}
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "ghost", Mechanism: 1}}
	resp, _ := l.ask(1, "", req).(*kmsg.AlterUserSCRAMCredentialsResponse)
	want := map[string]int16{"ghost": 91, "few": 93, "mech": 33, "twice": 92, "": 93, "good": 0}
	if resp == nil || len(resp.Results) != len(want) {
		t.Fatalf("results: %+v", resp)
	}
	for _, r := range resp.Results {
		if r.ErrorCode != want[r.User] {
			t.Errorf("user %q: code %d, want %d", r.User, r.ErrorCode, want[r.User])
		}
	}
	if _, ok := l.n.quorum.image.ScramCredential("twice", 1); ok {
		t.Fatal("a refused user's credential was stored")
	}
	if _, ok := l.n.quorum.image.ScramCredential("good", 2); !ok {
		t.Fatal("the accepted credential was not stored")
	}
}

// Requests the shell had read from a connection the node gave up on are dropped until
// the shell reports it closed: they do not open a new connection without its state.
func TestRequestsAfterHangUpAreDropped(t *testing.T) {
	l := newLone(t, Config{Listeners: []Listener{{Name: "SASL", Host: "h", Port: 1, SecurityProtocol: protocolSASLPlaintext}}})
	if l.metadata(1) != nil || !l.closed[1] {
		t.Fatal("Metadata before authentication was not refused")
	}
	delete(l.closed, 1)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, sasl.NameScramSHA512
	if r := l.ask(1, "SASL", hs); r != nil || l.closed[1] {
		t.Fatalf("a request read after the hang-up was served: %v (closed again: %v)", r, l.closed[1])
	}
	if len(l.n.conns.hungUp) != 1 {
		t.Fatalf("%d connections remembered as hung up, want 1", len(l.n.conns.hungUp))
	}
	l.n.ConnClosed(l.now, 1)
	if len(l.n.conns.hungUp) != 0 {
		t.Fatal("the shell's close left the connection remembered")
	}
}

// PLAIN password checks are paced: past plainChecksPerSecond in a burst, a login is
// answered with a code clients retry instead of a PBKDF2 on the node's loop.
func TestPlainChecksArePaced(t *testing.T) {
	l := newLone(t, Config{Listeners: []Listener{{Name: "SASL", Host: "h", Port: 1, SecurityProtocol: protocolSASLPlaintext},
		{Name: "PLAIN", Host: "h", Port: 2}}})
	l.setPassword("alice", "pw", sasl.ScramSHA256)
	codes := map[int16]int{}
	for i := range plainChecksPerSecond + 5 {
		conn := ConnID(100 + i)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, sasl.NamePlain
		l.n.Request(l.now, Request{Conn: conn, Corr: 1, Key: 17, Version: 1, Listener: "SASL", Msg: hs})
		auth := kmsg.NewPtrSASLAuthenticateRequest()
		auth.SASLAuthBytes = sasl.PlainMessage("alice", "wrong")
		l.n.Request(l.now, Request{Conn: conn, Corr: 2, Key: 36, Listener: "SASL", Msg: auth})
	}
	l.run(100 * time.Millisecond)
	for i := range plainChecksPerSecond + 5 {
		for _, r := range l.resps[ConnID(100+i)] {
			if a, ok := r.(*kmsg.SASLAuthenticateResponse); ok {
				codes[a.ErrorCode]++
			}
		}
	}
	if codes[kerr.SaslAuthenticationFailed.Code] < plainChecksPerSecond-5 || codes[kerr.ThrottlingQuotaExceeded.Code] < 1 {
		t.Fatalf("answers by code: %v", codes)
	}
	l.run(2 * time.Second) // the budget comes back
	if code := l.plainLogin(200, "alice", "pw"); code != 0 {
		t.Fatalf("a PLAIN login after the burst: %d", code)
	}
}

func (l *lone) plainLogin(conn ConnID, user, pw string) int16 {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, sasl.NamePlain
	l.ask(conn, "SASL", hs)
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.SASLAuthBytes = sasl.PlainMessage(user, pw)
	r, _ := l.ask(conn, "SASL", auth).(*kmsg.SASLAuthenticateResponse)
	if r == nil {
		l.t.Fatal("SaslAuthenticate not answered")
	}
	return r.ErrorCode
}
