package node

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLS for Kafka clients. Client listeners mapped to SSL or SASL_SSL terminate TLS here,
// in the shell: the core sees the same requests as on a plaintext listener, and learns
// of the protocol only through the listener's registered security protocol code.
// Unlike peers, clients reach brokers by host name, so the certificate is a server
// certificate checked the usual way by the client; client certificates are optional
// (ssl.client.auth). The certificate is reread when its files change on disk, so that
// it can be rotated without a restart.

// clientTLSVersionMin is the oldest TLS version a client may speak: TLS 1.2, which
// every maintained Kafka client supports.
const clientTLSVersionMin = tls.VersionTLS12

// clientCertCheckEvery is how often, at most, a handshake looks at the certificate
// files for a change: two small files read per second, whatever the handshake rate.
const clientCertCheckEvery = time.Second

// clientTLSListener returns the first client listener that terminates TLS.
func (c *Config) clientTLSListener() (Listener, bool) {
	for _, l := range c.Listeners {
		if !l.Peer && l.usesTLS() {
			return l, true
		}
	}
	return Listener{}, false
}

// checkClientTLS checks the client TLS settings against each other and the listeners,
// and that the files they name can be read and used.
func (c *Config) checkClientTLS() error {
	f := c.ClientTLS
	if (f.CertFile == "") != (f.KeyFile == "") {
		return errors.New("tls.cert.file and tls.key.file go together: set both (the PEM certificate chain of the client listeners and its private key)")
	}
	if l, ok := c.clientTLSListener(); ok && f.CertFile == "" {
		return fmt.Errorf("listener %s uses %s: set tls.cert.file and tls.key.file to its PEM certificate chain and private key", l.Name, l.Protocol)
	}
	switch {
	case c.ClientAuth != ClientAuthNone && f.CAFile == "":
		return fmt.Errorf("ssl.client.auth=%s: set tls.client.ca.file to the PEM bundle of the CAs that sign client certificates", c.ClientAuth)
	case c.ClientAuth == ClientAuthNone && f.CAFile != "":
		return errors.New("tls.client.ca.file is set but ssl.client.auth=none asks clients for no certificate: set ssl.client.auth=required (or requested), or drop tls.client.ca.file")
	}
	if f.CertFile != "" {
		if _, err := loadClientKeyPair(f); err != nil {
			return err
		}
	}
	if f.CAFile != "" {
		if _, err := loadCAPool("tls.client.ca.file", f.CAFile); err != nil {
			return err
		}
	}
	return nil
}

// loadClientKeyPair reads tls.cert.file and tls.key.file; every error names the setting
// at fault and says what it wants.
func loadClientKeyPair(f TLSFiles) (tls.Certificate, error) {
	certPEM, keyPEM, err := readCertFiles(f)
	if err != nil {
		return tls.Certificate{}, err
	}
	return parseClientKeyPair(f, certPEM, keyPEM)
}

func readCertFiles(f TLSFiles) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(f.CertFile); err != nil {
		return nil, nil, fmt.Errorf("tls.cert.file: %w; point it at a readable PEM certificate chain", err)
	}
	if keyPEM, err = os.ReadFile(f.KeyFile); err != nil {
		return nil, nil, fmt.Errorf("tls.key.file: %w; point it at the readable PEM private key of tls.cert.file", err)
	}
	return certPEM, keyPEM, nil
}

func parseClientKeyPair(f TLSFiles, certPEM, keyPEM []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls.cert.file %s with tls.key.file %s: %w; give a PEM certificate chain and its own private key", f.CertFile, f.KeyFile, err)
	}
	return cert, nil
}

// loadCAPool reads a PEM bundle of CA certificates named by setting.
func loadCAPool(setting, path string) (*x509.CertPool, error) {
	caPEM, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; point it at a readable PEM bundle of CA certificates", setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s %s holds no PEM certificate; give a PEM bundle of CA certificates", setting, path)
	}
	return pool, nil
}

// clientTLS is the TLS side of the client listeners: the certificate they present,
// reloaded when its files change, and how they treat client certificates.
type clientTLS struct {
	files      TLSFiles
	log        *slog.Logger
	metrics    *metrics
	checkEvery time.Duration
	config     *tls.Config // shared by every handshake; its GetCertificate reads cert

	cert atomic.Pointer[tls.Certificate]

	// mu serializes looks at the files; a handshake that finds it taken serves the
	// current certificate instead of waiting.
	mu        sync.Mutex
	checkedAt time.Time
	loaded    filesDigest  // the files the current certificate came from
	failed    *loadFailure // the last failed load since then, already logged
}

// filesDigest tells versions of the certificate and key files apart. It is taken
// from their content: a file's modification time and size can miss a rewrite within
// the file system's timestamp granularity, and the files are small.
type filesDigest [sha256.Size]byte

func digestCertFiles(certPEM, keyPEM []byte) filesDigest {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(certPEM)))
	h.Write(n[:])
	h.Write(certPEM)
	h.Write(keyPEM)
	return filesDigest(h.Sum(nil))
}

// loadFailure identifies a failed load: the digest of the files (zero when they could
// not be read) and the error.
type loadFailure struct {
	digest filesDigest
	err    string
}

func newClientTLS(cfg *Config, log *slog.Logger, m *metrics) (*clientTLS, error) {
	certPEM, keyPEM, err := readCertFiles(cfg.ClientTLS)
	if err != nil {
		return nil, err
	}
	cert, err := parseClientKeyPair(cfg.ClientTLS, certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	c := &clientTLS{files: cfg.ClientTLS, log: log, metrics: m, checkEvery: clientCertCheckEvery, loaded: digestCertFiles(certPEM, keyPEM)}
	c.cert.Store(&cert)
	c.config = &tls.Config{
		MinVersion:     clientTLSVersionMin,
		GetCertificate: c.certificate,
		ClientAuth:     clientAuthType(cfg.ClientAuth),
	}
	if cfg.ClientTLS.CAFile != "" {
		if c.config.ClientCAs, err = loadCAPool("tls.client.ca.file", cfg.ClientTLS.CAFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func clientAuthType(a ClientAuth) tls.ClientAuthType {
	switch a {
	case ClientAuthRequested:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// certificate is the tls.Config's GetCertificate: the current certificate, after a
// look at its files when the last look is older than checkEvery.
func (c *clientTLS) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.maybeReload(time.Now())
	return c.cert.Load(), nil
}

// maybeReload loads the certificate again when its files changed since it was
// loaded. Files that fail to load leave the current certificate in place and are
// logged once, not at every look.
func (c *clientTLS) maybeReload(now time.Time) {
	if !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	if now.Sub(c.checkedAt) < c.checkEvery {
		return
	}
	c.checkedAt = now
	certPEM, keyPEM, err := readCertFiles(c.files)
	if err != nil {
		c.fail(loadFailure{err: err.Error()})
		return
	}
	digest := digestCertFiles(certPEM, keyPEM)
	if digest == c.loaded || c.failed != nil && c.failed.digest == digest {
		return
	}
	cert, err := parseClientKeyPair(c.files, certPEM, keyPEM)
	if err != nil {
		c.fail(loadFailure{digest: digest, err: err.Error()})
		return
	}
	c.cert.Store(&cert)
	c.loaded, c.failed = digest, nil
	c.metrics.tlsCertReloads.Add(1)
	c.log.Info("reloaded the client TLS certificate", "cert", c.files.CertFile, "serial", leafSerial(&cert))
}

// fail counts and logs a failed load, unless it is the one before.
func (c *clientTLS) fail(f loadFailure) {
	if c.failed != nil && *c.failed == f {
		return
	}
	c.failed = &f
	c.metrics.tlsCertReloadFailed.Add(1)
	c.log.Error("the client TLS certificate files changed but do not load; new handshakes keep the previous certificate", "err", f.err)
}

// leafSerial is the serial number of a certificate's leaf, for logs.
func leafSerial(cert *tls.Certificate) string {
	if len(cert.Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return ""
	}
	return leaf.SerialNumber.String()
}
