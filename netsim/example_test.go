package netsim_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/seedlog/seedlog/netsim"
)

// The simulator asks netsim when a message arrives, queues the arrival itself, and checks
// the link or the stream again when the arrival comes due.
func Example() {
	cfg := netsim.DefaultConfig()
	cfg.Link = netsim.LinkConfig{DelayBase: time.Millisecond} // predictable for the example
	net, err := netsim.New(rand.New(rand.NewPCG(42, 0)), cfg, []netsim.Addr{0, 1, 2})
	if err != nil {
		panic(err)
	}
	const client netsim.Addr = 100

	// A datagram from node 0 to node 1, a request on a client's connection to node 1,
	// and a message on a connection between nodes 2 and 1.
	arrivals := net.Send(nil, 0, 0, 1, 64)
	conn, _ := net.Open(client, 1)
	reqAt, _ := net.StreamSend(0, conn, client, 512)
	peer, _ := net.Open(2, 1)
	peerAt, _ := net.StreamSend(0, peer, 2, 128)
	fmt.Println("arrivals:", arrivals, reqAt, peerAt)

	// Node 1 is isolated before anything arrives. The simulator tells both ends of each
	// broken stream that the connection closed, and checks each arrival when it is due.
	broken := net.Apply(netsim.Time(500*time.Microsecond), netsim.Isolate(1))
	fmt.Println("broken streams:", broken)
	fmt.Println("deliver datagram:", net.Connected(0, 1))
	fmt.Println("deliver request:", !net.Broken(conn), "(the client was not named in the fault)")
	fmt.Println("deliver peer message:", !net.Broken(peer))

	_, ok := net.Open(2, 1)
	fmt.Println("reconnect during the partition:", ok)
	net.Heal(netsim.Time(time.Millisecond))
	_, ok = net.Open(2, 1)
	fmt.Println("reconnect after heal:", ok)
	// Output:
	// arrivals: [1ms] 1ms 1ms
	// broken streams: [2]
	// deliver datagram: false
	// deliver request: true (the client was not named in the fault)
	// deliver peer message: false
	// reconnect during the partition: false
	// reconnect after heal: true
}
