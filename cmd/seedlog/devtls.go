package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/seedlog/seedlog/node"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TLS for the dev cluster's clients (seedlog dev --tls): a throwaway CA and a server
// certificate per broker for 127.0.0.1 and localhost, made in the data directory on
// first use and kept with it, and the client settings that trust them.

// devClientTLSDir is the directory of the client TLS material, under the data directory.
const devClientTLSDir = "client-tls"

// devClientTLS is the client TLS material of a dev cluster.
type devClientTLS struct {
	dir string
}

// devClientHosts are the names the dev brokers' certificates carry: the address they
// listen on and the name most clients use for it.
var devClientHosts = []string{"127.0.0.1", "localhost"}

func (d devClientTLS) caFile() string { return filepath.Join(d.dir, "ca.pem") }

func (d devClientTLS) certFile(id int32) string {
	return filepath.Join(d.dir, fmt.Sprintf("broker-%d.pem", id))
}

func (d devClientTLS) keyFile(id int32) string {
	return filepath.Join(d.dir, fmt.Sprintf("broker-%d.key", id))
}

// ensureDevClientTLS makes the CA and the brokers' certificates in dataDir, unless a
// kept data directory already holds them all.
func ensureDevClientTLS(dataDir string, brokers int) (devClientTLS, error) {
	d := devClientTLS{dir: filepath.Join(dataDir, devClientTLSDir)}
	if d.complete(brokers) {
		return d, nil
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return d, err
	}
	ca, err := node.NewPeerCA("seedlog dev client CA", devCertValidity)
	if err != nil {
		return d, err
	}
	for i := range brokers {
		id := int32(i + 1)
		cert, key, err := ca.HostCert(fmt.Sprintf("seedlog dev broker %d", id), devClientHosts, devCertValidity)
		if err != nil {
			return d, err
		}
		if err := os.WriteFile(d.certFile(id), cert, 0o644); err != nil {
			return d, err
		}
		if err := os.WriteFile(d.keyFile(id), key, 0o600); err != nil {
			return d, err
		}
	}
	// The CA certificate last: its presence says the directory is complete. Its key is
	// not kept: nothing else is ever issued under this CA.
	return d, os.WriteFile(d.caFile(), ca.CertPEM, 0o644)
}

// complete reports whether the directory holds the CA and a certificate per broker.
func (d devClientTLS) complete(brokers int) bool {
	paths := []string{d.caFile()}
	for i := range brokers {
		paths = append(paths, d.certFile(int32(i+1)), d.keyFile(int32(i+1)))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// settings are broker id's client TLS settings.
func (d devClientTLS) settings(id int32) map[string]string {
	return map[string]string{"tls.cert.file": d.certFile(id), "tls.key.file": d.keyFile(id)}
}

// clientOpts are the options of a franz-go client of the dev cluster.
func (d devClientTLS) clientOpts() ([]kgo.Opt, error) {
	pool, err := readCAFile("the dev cluster's CA", d.caFile())
	if err != nil {
		return nil, err
	}
	return []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})}, nil
}

// seedlogFlags are the flags a seedlog client command needs to reach the cluster.
func (d devClientTLS) seedlogFlags() string { return "--tls --tls-ca " + d.caFile() }

// printClientSettings says how each kind of client reaches the cluster over TLS.
func (d devClientTLS) printClientSettings(w io.Writer) {
	fmt.Fprintf(w, "tls: the client listeners take TLS only, with certificates of the CA %s\n", d.caFile())
	fmt.Fprintf(w, "  seedlog:  %s\n", d.seedlogFlags())
	fmt.Fprintf(w, "  kcat:     -X security.protocol=SSL -X ssl.ca.location=%s\n", d.caFile())
	fmt.Fprintf(w, "  franz-go: kgo.DialTLSConfig(&tls.Config{RootCAs: pool}), pool holding %s (x509.NewCertPool, AppendCertsFromPEM)\n", d.caFile())
}
