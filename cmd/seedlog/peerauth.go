package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/node"
)

// devCertValidity is how long the dev cluster's throwaway certificates last.
const devCertValidity = 30 * 24 * time.Hour

func peerAuthCommand(args []string) int {
	const synopsis = "seedlog peer-auth secret FILE | certs --nodes 1,2,3 --dir DIR [--hosts 1=host,...] [--valid DURATION]"
	if len(args) == 0 {
		return usageError("peer-auth: want a subcommand; usage: %s", synopsis)
	}
	switch args[0] {
	case "secret":
		return peerSecretCommand(args[1:])
	case "certs":
		return peerCertsCommand(args[1:])
	case "-h", "--help", "help":
		fmt.Println("usage: " + synopsis)
		fmt.Println("  secret  write a new cluster secret to FILE (mode 0600); copy it to every node and set peer.secret.file")
		fmt.Println("  certs   write a CA and a certificate per node to DIR; map the peer listener to SSL and set peer.tls.*")
		return exitOK
	}
	return usageError("peer-auth: unknown subcommand %q; usage: %s", args[0], synopsis)
}

func peerSecretCommand(args []string) int {
	fs := flag.NewFlagSet("peer-auth secret", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog peer-auth secret FILE")
	}
	if err != nil || len(pos) != 1 {
		return usageError("peer-auth secret: want one FILE to write")
	}
	if _, err := os.Stat(pos[0]); err == nil {
		return usageError("peer-auth secret: %s exists; remove it first to replace the secret (every node needs the new one)", pos[0])
	}
	if err := ensureSecretFile(pos[0]); err != nil {
		return problem("peer-auth secret: %v", err)
	}
	fmt.Printf("wrote a cluster secret to %s; copy it to every node and set peer.secret.file=%s\n", pos[0], pos[0])
	return exitOK
}

func peerCertsCommand(args []string) int {
	fs := flag.NewFlagSet("peer-auth certs", flag.ContinueOnError)
	var nodes, hosts listFlag
	fs.Var(&nodes, "nodes", "node ids to issue certificates for (comma-separated, repeatable)")
	fs.Var(&hosts, "hosts", "id=host pairs added to each certificate as names (informational: peers check the node id)")
	dir := fs.String("dir", "", "directory to write ca.pem, ca.key, node-<id>.pem and node-<id>.key into")
	valid := fs.Duration("valid", 365*24*time.Hour, "validity of the CA and the certificates")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog peer-auth certs --nodes 1,2,3 --dir DIR [--hosts 1=host,...] [--valid DURATION]")
	}
	if err != nil {
		return usageError("%v; see seedlog peer-auth certs -h", err)
	}
	if len(pos) > 0 || *dir == "" || len(nodes) == 0 || *valid <= 0 {
		return usageError("peer-auth certs: want --nodes and --dir (and a positive --valid); see seedlog peer-auth certs -h")
	}
	var ids []int32
	for _, s := range nodes {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			return usageError("peer-auth certs: --nodes: bad node id %q", s)
		}
		ids = append(ids, int32(n))
	}
	hostsOf := map[int32][]string{}
	for _, h := range hosts {
		id, host, ok := strings.Cut(h, "=")
		n, err := strconv.ParseInt(id, 10, 32)
		if !ok || err != nil || host == "" {
			return usageError("peer-auth certs: --hosts: want id=host, got %q", h)
		}
		hostsOf[int32(n)] = append(hostsOf[int32(n)], host)
	}
	if _, err := os.Stat(filepath.Join(*dir, "ca.pem")); err == nil {
		return usageError("peer-auth certs: %s already holds a CA; pick a new --dir", *dir)
	}
	if err := ensureNodeCerts(*dir, ids, hostsOf, *valid); err != nil {
		return problem("peer-auth certs: %v", err)
	}
	fmt.Printf("wrote %s/ca.pem and a certificate per node; on node N set\n", *dir)
	fmt.Printf("  listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PEER:SSL\n  peer.tls.ca.file=%s/ca.pem\n  peer.tls.cert.file=%s/node-N.pem\n  peer.tls.key.file=%s/node-N.key\n", *dir, *dir, *dir)
	fmt.Printf("keep %s/ca.key offline: it issues node identities\n", *dir)
	return exitOK
}

// ensureSecretFile writes 32 random bytes, hex-encoded, to path unless it exists.
func ensureSecretFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b[:])+"\n"), 0o600)
}

// ensureNodeCerts writes a CA and a certificate for every node to dir, unless the CA is
// already there (a kept dev cluster restarting).
func ensureNodeCerts(dir string, ids []int32, hosts map[int32][]string, valid time.Duration) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := node.NewPeerCA("seedlog peer CA", valid)
	if err != nil {
		return err
	}
	for _, id := range ids {
		cert, key, err := ca.NodeCert(id, hosts[id], valid)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("node-%d.pem", id)), cert, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("node-%d.key", id)), key, 0o600); err != nil {
			return err
		}
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
		return err
	}
	// The CA certificate last: its presence says the directory is complete.
	return os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM, 0o644)
}
