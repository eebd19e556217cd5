package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/seedlog/seedlog/core"
)

// Listener is one entry of the listeners setting. Validate fills Protocol and Peer.
type Listener struct {
	Name string
	Addr string // host:port
	// Protocol is the listener's security protocol: PLAINTEXT or SSL, and for client
	// listeners also SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// Peer is true for the controller and inter-broker listeners, which speak only the
	// peer protocol; every other listener serves Kafka clients only.
	Peer bool
}

const (
	protocolPlaintext     = "PLAINTEXT"
	protocolSSL           = "SSL"
	protocolSASLPlaintext = "SASL_PLAINTEXT"
	protocolSASLSSL       = "SASL_SSL"
)

// securityProtocolCodes are Kafka's codes of the security protocols, which a broker
// registers with each listener and Metadata hands to clients. The core demands SASL
// on the listeners registered with codes 2 and 3.
var securityProtocolCodes = map[string]int16{
	protocolPlaintext:     0,
	protocolSSL:           1,
	protocolSASLPlaintext: 2,
	protocolSASLSSL:       3,
}

// usesTLS reports whether the node terminates TLS on connections to l.
func (l Listener) usesTLS() bool { return l.Protocol == protocolSSL || l.Protocol == protocolSASLSSL }

// usesSASL reports whether clients of l must authenticate with SASL.
func (l Listener) usesSASL() bool {
	return l.Protocol == protocolSASLPlaintext || l.Protocol == protocolSASLSSL
}

// listenersMax bounds the listeners of one node (the metadata image allows as many per
// broker registration).
const listenersMax = 16

// parseListeners reads NAME://host:port,NAME://host:port.
func parseListeners(v string) ([]Listener, error) {
	var out []Listener
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, addr, ok := strings.Cut(item, "://")
		if !ok || !validListenerName(name) {
			return nil, fmt.Errorf("want NAME://host:port (e.g. PLAINTEXT://127.0.0.1:9092), got %q", item)
		}
		if err := checkHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		if slices.ContainsFunc(out, func(l Listener) bool { return l.Name == name }) {
			return nil, fmt.Errorf("listener %s given twice", name)
		}
		out = append(out, Listener{Name: name, Addr: addr})
	}
	if len(out) > listenersMax {
		return nil, fmt.Errorf("%d listeners, at most %d", len(out), listenersMax)
	}
	return out, nil
}

// validListenerName accepts Kafka's listener names: letters, digits and underscores.
func validListenerName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// parseProtocolMap reads NAME:PROTOCOL,NAME:PROTOCOL.
func parseProtocolMap(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, proto, ok := strings.Cut(item, ":")
		if !ok || !validListenerName(name) {
			return nil, fmt.Errorf("want NAME:PROTOCOL, got %q", item)
		}
		if _, ok := securityProtocolCodes[proto]; !ok {
			return nil, fmt.Errorf("%s: unknown security protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", item, proto)
		}
		out[name] = proto
	}
	return out, nil
}

// resolveListeners gives each listener its protocol and role, and checks that the
// names the other settings use exist.
func (c *Config) resolveListeners() error {
	if len(c.Listeners) == 0 {
		return errors.New("listeners: empty")
	}
	peerNames := slices.Clone(c.ControllerListenerNames)
	peerNames = append(peerNames, c.interBrokerName())
	clients := 0
	for i := range c.Listeners {
		l := &c.Listeners[i]
		proto, ok := c.ProtocolMap[l.Name]
		if !ok {
			return fmt.Errorf("listener %s has no security protocol in listener.security.protocol.map", l.Name)
		}
		l.Protocol, l.Peer = proto, slices.Contains(peerNames, l.Name)
		switch {
		case l.Peer && proto != protocolPlaintext && proto != protocolSSL:
			return fmt.Errorf("listener %s: peers authenticate with peer.secret.file (PLAINTEXT) or mutual TLS (SSL), not %s; map it to one of those", l.Name, proto)
		case l.Peer:
		default:
			clients++
		}
	}
	for _, a := range c.Advertised {
		if !slices.ContainsFunc(c.Listeners, func(l Listener) bool { return l.Name == a.Name }) {
			return fmt.Errorf("advertised.listeners: %s is not in listeners", a.Name)
		}
	}
	if c.Broker && clients == 0 {
		return errors.New("listeners: a broker needs a client listener (one not named in controller.listener.names or inter.broker.listener.name)")
	}
	if c.Controller {
		if _, ok := c.listener(c.ControllerListenerNames[0]); !ok {
			return fmt.Errorf("listeners: a controller needs its controller listener %s", c.ControllerListenerNames[0])
		}
	}
	if c.Broker {
		if _, ok := c.listener(c.interBrokerName()); !ok {
			return fmt.Errorf("listeners: a broker needs its inter-broker listener %s", c.interBrokerName())
		}
	}
	// Peers are reached with one protocol, whatever listener they took them on.
	protos := map[string]bool{}
	for _, name := range peerNames {
		if p, ok := c.ProtocolMap[name]; ok {
			protos[p] = true
		}
	}
	if len(protos) > 1 {
		return errors.New("listener.security.protocol.map: the controller and inter-broker listeners must use the same protocol")
	}
	return nil
}

func (c *Config) interBrokerName() string {
	if c.InterBrokerListener != "" {
		return c.InterBrokerListener
	}
	return c.ControllerListenerNames[0]
}

// PeerProtocol is the security protocol of every peer listener of the cluster.
func (c *Config) PeerProtocol() string {
	if p, ok := c.ProtocolMap[c.interBrokerName()]; ok {
		return p
	}
	return c.ProtocolMap[c.ControllerListenerNames[0]]
}

func (c *Config) listener(name string) (Listener, bool) {
	i := slices.IndexFunc(c.Listeners, func(l Listener) bool { return l.Name == name })
	if i < 0 {
		return Listener{}, false
	}
	return c.Listeners[i], true
}

// peerListenerName is the listener this node announces to peers: its inter-broker
// listener when it is a broker, else its controller listener.
func (c *Config) peerListenerName() string {
	if c.Broker {
		return c.interBrokerName()
	}
	return c.ControllerListenerNames[0]
}

// advertise is the address announced for listener l bound at bound: the configured
// advertised address, else the bound one, with a wildcard host replaced by the
// machine's hostname.
func (c *Config) advertise(l Listener, bound net.Addr) (string, int32) {
	for _, a := range c.Advertised {
		if a.Name == l.Name {
			host, port, _ := net.SplitHostPort(a.Addr)
			p, _ := strconv.Atoi(port)
			return host, int32(p)
		}
	}
	host, portStr, _ := net.SplitHostPort(bound.String())
	port, _ := strconv.Atoi(portStr)
	if cfgHost, _, err := net.SplitHostPort(l.Addr); err == nil && cfgHost != "" {
		host = cfgHost
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return host, int32(port)
}

// registered lists the listeners a broker registers: its client listeners in the order
// of the listeners setting, then its inter-broker listener, so that other nodes find
// it for replication.
func registered(c *Config, bound []*boundListener) []core.Listener {
	var clients, peers []core.Listener
	for _, b := range bound {
		host, port := c.advertise(b.cfg, b.ln.Addr())
		l := core.Listener{Name: b.cfg.Name, Host: host, Port: port, SecurityProtocol: securityProtocolCodes[b.cfg.Protocol]}
		switch {
		case !b.cfg.Peer:
			clients = append(clients, l)
		case b.cfg.Name == c.peerListenerName():
			peers = append(peers, l)
		}
	}
	return append(clients, peers...)
}
