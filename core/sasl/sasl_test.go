package sasl

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The SCRAM-SHA-256 exchange of RFC 7677 section 3, byte for byte.
func TestRFC7677Exchange(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred := Derive(ScramSHA256, SaltedPassword(ScramSHA256, "pencil", salt, 4096), salt, 4096)
	s := NewScramServer(ScramSHA256)
	user, err := s.ClientFirst([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || user != "user" {
		t.Fatalf("client-first: %q %v", user, err)
	}
	// The RFC's server nonce, as the raw bytes whose encoding it is.
	s.nonce += "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	s.cred, s.known = cred, true
	s.serverFirst = "r=" + s.nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	final, err := s.ClientFinal([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil {
		t.Fatalf("client-final: %v", err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final %q, want %q", final, want)
	}
}

// exchange runs a whole exchange between a server holding cred (known) and a client.
func exchange(t *testing.T, m Mechanism, cred Credential, known bool, first func() []byte, final func([]byte) ([]byte, error)) ([]byte, error) {
	t.Helper()
	s := NewScramServer(m)
	if _, err := s.ClientFirst(first()); err != nil {
		return nil, err
	}
	cf, err := final(s.ServerFirst(cred, known, []byte("0123456789abcdef"), []byte("key")))
	if err != nil {
		t.Fatalf("client refused the server's first message: %v", err)
	}
	return s.ClientFinal(cf)
}

// franz-go's SCRAM client, which real clients use, authenticates against the server with
// the right password and fails with a wrong one, for both mechanisms.
func TestScramAgainstFranzGo(t *testing.T) {
	for _, m := range Mechanisms {
		salt := []byte("some salt")
		cred := Derive(m, SaltedPassword(m, "s3cret", salt, 4096), salt, 4096)
		for _, pw := range []string{"s3cret", "wrong"} {
			a := scram.Auth{User: "al,i=ce", Pass: pw}
			mech := a.AsSha256Mechanism()
			if m == ScramSHA512 {
				mech = a.AsSha512Mechanism()
			}
			sess, first, err := mech.Authenticate(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			s := NewScramServer(m)
			if u, err := s.ClientFirst(first); err != nil || u != "al,i=ce" {
				t.Fatalf("%v: client-first: %q %v", m, u, err)
			}
			_, cf, err := sess.Challenge(s.ServerFirst(cred, true, []byte("0123456789abcdef"), []byte("key")))
			if err != nil {
				t.Fatal(err)
			}
			sf, err := s.ClientFinal(cf)
			if pw == "wrong" {
				if !errors.Is(err, ErrFailed) {
					t.Fatalf("%v: a wrong password got %v", m, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%v: the right password failed: %v", m, err)
			}
			if done, _, err := sess.Challenge(sf); !done || err != nil {
				t.Fatalf("%v: franz-go refused the server's signature: %v", m, err)
			}
		}
	}
}

// Our own client, which the simulator uses, agrees with the server; an unknown user
// fails at the proof like a wrong password.
func TestScramClientAndServer(t *testing.T) {
	m := ScramSHA512
	salt := []byte("salt")
	cred := Derive(m, SaltedPassword(m, "pw", salt, 4096), salt, 4096)
	for _, tc := range []struct {
		pw    string
		known bool
		ok    bool
	}{{"pw", true, true}, {"nope", true, false}, {"pw", false, false}} {
		c := NewScramClient(m, "bob", tc.pw)
		sf, err := exchange(t, m, cred, tc.known, func() []byte { return c.First("abc") }, c.Final)
		if tc.ok {
			if err != nil || c.Verify(sf) != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
		} else if !errors.Is(err, ErrFailed) {
			t.Fatalf("%+v: got %v", tc, err)
		}
	}
}

func TestScramRefusesMalformed(t *testing.T) {
	for _, first := range []string{
		"", "y,,n=a,r=b", "p=tls-unique,,n=a,r=b", "n,,r=b,n=a", "n,,n=,r=b", "n,,n=a=2,r=b",
		"n,a=other,n=a,r=b", "n,,n=a,r=b,m=x", "n,,n=a,r=b,tokenauth=true", "n,,n=a,r=b\x01",
	} {
		if _, err := NewScramServer(ScramSHA256).ClientFirst([]byte(first)); !errors.Is(err, ErrFailed) {
			t.Errorf("client-first %q accepted", first)
		}
	}
	s := NewScramServer(ScramSHA256)
	if _, err := s.ClientFirst([]byte("n,,n=a,r=b")); err != nil {
		t.Fatal(err)
	}
	s.ServerFirst(Credential{}, false, []byte("0123456789abcdef"), []byte("key"))
	if _, err := s.ClientFinal([]byte("c=biws,r=bb,p=AAAA")); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "nonce differs") {
		t.Fatalf("a nonce without the server's part was accepted: %v", err)
	}
	if _, err := s.ClientFinal([]byte("c=biws")); !errors.Is(err, ErrFailed) {
		t.Fatal("a second client-final was accepted")
	}
}

func TestPlain(t *testing.T) {
	salt := []byte("salt")
	cred := Derive(ScramSHA256, SaltedPassword(ScramSHA256, "pw", salt, 4096), salt, 4096)
	u, p, err := ParsePlain(PlainMessage("ann", "pw"))
	if err != nil || u != "ann" || !cred.Matches(ScramSHA256, p) || cred.Matches(ScramSHA256, "px") {
		t.Fatalf("%q %q %v", u, p, err)
	}
	for _, msg := range []string{"", "a\x00b", "x\x00a\x00b", "\x00\x00b", "\x00a\x00", "\x00a\x00b\x00c"} {
		if _, _, err := ParsePlain([]byte(msg)); err == nil {
			t.Errorf("PLAIN %q accepted", msg)
		}
	}
	if _, _, err := ParsePlain([]byte("a\x00a\x00pw")); err != nil {
		t.Errorf("an authzid equal to the user refused: %v", err)
	}
}

// librdkafka before 2.6.1 sends its own nonce once more in front of the server's; the
// exchange still completes, and nothing else is accepted in the nonce's place.
func TestScramLibrdkafkaNonce(t *testing.T) {
	m := ScramSHA512
	salt := []byte("salt")
	cred := Derive(m, SaltedPassword(m, "pw", salt, 4096), salt, 4096)
	for _, tc := range []struct {
		twice func(cnonce, full string) string
		ok    bool
	}{
		{func(c, f string) string { return c + f }, true},
		{func(c, f string) string { return c + c + f }, false},
		{func(c, f string) string { return f + c }, false},
	} {
		s := NewScramServer(m)
		cnonce := "clientnonce"
		if _, err := s.ClientFirst([]byte("n,,n=u,r=" + cnonce)); err != nil {
			t.Fatal(err)
		}
		first := s.ServerFirst(cred, true, []byte("0123456789abcdef"), []byte("key"))
		full := strings.TrimPrefix(strings.Split(string(first), ",")[0], "r=")
		withoutProof := "c=biws,r=" + tc.twice(cnonce, full)
		auth := "n=u,r=" + cnonce + "," + string(first) + "," + withoutProof
		salted := SaltedPassword(m, "pw", salt, 4096)
		proof := mac(m, salted, "Client Key")
		sig := mac(m, cred.StoredKey, auth)
		for i := range proof {
			proof[i] ^= sig[i]
		}
		_, err := s.ClientFinal([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if (err == nil) != tc.ok {
			t.Errorf("nonce %q: %v, want ok %v", tc.twice(cnonce, full), err, tc.ok)
		}
	}
}

// FuzzScramServer feeds the server arbitrary client messages: it never panics, and
// nothing but the exchange of a client that knows the password succeeds.
func FuzzScramServer(f *testing.F) {
	f.Add([]byte("n,,n=user,r=abc"), []byte("c=biws,r=abcXYZ,p=AAAA"))
	f.Add([]byte("n,a=user,n=user,r=x"), []byte("c=bixhPXVzZXIs,r=x,p="))
	salt := []byte("salt")
	cred := Derive(ScramSHA256, SaltedPassword(ScramSHA256, "pw", salt, 4096), salt, 4096)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s := NewScramServer(ScramSHA256)
		if _, err := s.ClientFirst(first); err != nil {
			return
		}
		s.ServerFirst(cred, true, []byte("0123456789abcdef"), []byte("key"))
		if _, err := s.ClientFinal(final); err == nil {
			t.Fatalf("a fuzzed proof authenticated: %q %q", first, final)
		}
	})
}

// FuzzPlain: the PLAIN parser never panics and returns only bounded, non-empty names.
func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00user\x00pw"))
	f.Add([]byte("a\x00a\x00b"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		u, p, err := ParsePlain(msg)
		if err == nil && (u == "" || p == "" || len(u) > UserBytesMax || len(p) > PasswordBytesMax) {
			t.Fatalf("accepted %q as %q/%q", msg, u, p)
		}
	})
}

// FuzzScramClient: the client side, which reads a server's messages, never panics.
func FuzzScramClient(f *testing.F) {
	f.Add([]byte("r=abcdef,s=c2FsdA==,i=4096"), []byte("v=AAAA"))
	f.Fuzz(func(t *testing.T, serverFirst, serverFinal []byte) {
		c := NewScramClient(ScramSHA256, "u", "p")
		c.First("abc")
		if _, err := c.Final(serverFirst); err != nil {
			return
		}
		_ = c.Verify(serverFinal)
	})
}
