package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// saslPasswordEnv holds the SASL password when --sasl-password is not given, so that
// it stays out of shell history and process listings.
const saslPasswordEnv = "SEEDLOG_SASL_PASSWORD"

// SASL mechanisms the client commands speak.
const (
	saslPlain       = "PLAIN"
	saslScramSHA256 = "SCRAM-SHA-256"
	saslScramSHA512 = "SCRAM-SHA-512"
)

// securityOptions are the flags that say how a client command reaches a listener that
// is not PLAINTEXT: TLS (SSL), SASL (SASL_PLAINTEXT), or both (SASL_SSL).
type securityOptions struct {
	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	saslMechanism string
	saslUser      string
	saslPassword  string
}

func (s *securityOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&s.tls, "tls", false, "connect with TLS (a listener mapped to SSL or SASL_SSL)")
	fs.StringVar(&s.tlsCA, "tls-ca", "", "PEM file of the CAs to trust for the brokers' certificates (default: the system's)")
	fs.StringVar(&s.tlsCert, "tls-cert", "", "PEM client certificate to present (with --tls-key), for brokers with ssl.client.auth")
	fs.StringVar(&s.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&s.tlsServerName, "tls-server-name", "", "name to check the brokers' certificates against (default: the host dialled)")
	fs.StringVar(&s.saslMechanism, "sasl-mechanism", "", "authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (PLAIN sends the password as is: use it with --tls)")
	fs.StringVar(&s.saslUser, "sasl-user", "", "SASL user name")
	fs.StringVar(&s.saslPassword, "sasl-password", "", "SASL password (default: $"+saslPasswordEnv+")")
}

// resolve refuses combinations of the flags that cannot work, and takes the SASL
// password from the environment when the flag is empty. Its errors are usage errors.
func (s *securityOptions) resolve() error {
	if !s.tls {
		for _, f := range []struct{ name, value string }{{"--tls-ca", s.tlsCA}, {"--tls-cert", s.tlsCert}, {"--tls-key", s.tlsKey}, {"--tls-server-name", s.tlsServerName}} {
			if f.value != "" {
				return fmt.Errorf("%s needs --tls", f.name)
			}
		}
	}
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if s.saslMechanism == "" {
		if s.saslUser != "" || s.saslPassword != "" {
			return errors.New("--sasl-user and --sasl-password need --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil
	}
	switch strings.ToUpper(s.saslMechanism) {
	case saslPlain, saslScramSHA256, saslScramSHA512:
		s.saslMechanism = strings.ToUpper(s.saslMechanism)
	default:
		return fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.saslMechanism)
	}
	if s.saslPassword == "" {
		s.saslPassword = os.Getenv(saslPasswordEnv)
	}
	if s.saslUser == "" || s.saslPassword == "" {
		return fmt.Errorf("--sasl-mechanism %s needs --sasl-user and a password (--sasl-password or $%s)", s.saslMechanism, saslPasswordEnv)
	}
	return nil
}

// opts are the client options that the flags ask for. It reads the files the flags
// name; its errors are problems (exit 3), not usage errors. resolve has run.
func (s *securityOptions) opts() ([]kgo.Opt, error) {
	var out []kgo.Opt
	if s.tls {
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		out = append(out, kgo.DialTLSConfig(cfg))
	}
	if m := s.mechanism(); m != nil {
		out = append(out, kgo.SASL(m))
	}
	return out, nil
}

// tlsConfig is the TLS configuration of --tls and its companions.
func (s *securityOptions) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.tlsServerName}
	if s.tlsCA != "" {
		pool, err := readCAFile("--tls-ca", s.tlsCA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if s.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", s.tlsCert, s.tlsKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readCAFile reads a PEM bundle of CA certificates; what names it in errors.
func readCAFile(what, path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %s holds no PEM certificate", what, path)
	}
	return pool, nil
}

// mechanism is the SASL mechanism of the flags, nil without --sasl-mechanism. resolve
// normalized the name.
func (s *securityOptions) mechanism() sasl.Mechanism {
	switch s.saslMechanism {
	case saslPlain:
		return plain.Auth{User: s.saslUser, Pass: s.saslPassword}.AsMechanism()
	case saslScramSHA256:
		return scram.Auth{User: s.saslUser, Pass: s.saslPassword}.AsSha256Mechanism()
	case saslScramSHA512:
		return scram.Auth{User: s.saslUser, Pass: s.saslPassword}.AsSha512Mechanism()
	}
	return nil
}
