// Package netsim models the network of a simulated seedlog cluster.
//
// netsim is a passive model. It owns no clock and no event queue: the simulator keeps one
// queue ordered by (virtual time, sequence number) and asks netsim, message by message, when
// (and whether, and how many times) a message arrives. All randomness comes from the seeded
// *rand.Rand given to New, so the same seed and the same sequence of calls give the same
// answers. Virtual time is a Time (int64 nanoseconds since the start of the run); delays in
// configuration are time.Duration offsets.
//
// # Endpoints and links
//
// Every endpoint (node or client) has an Addr, a small non-negative integer chosen by the
// simulator. The node addresses are given to New; every other address is a client. A link is
// one direction between two addresses (a->b and b->a are different links). Each link has a
// LinkConfig: a delay distribution (base + uniform jitter, plus with a small probability a
// heavy-tail extra), loss, duplication and reorder probabilities, a stream break probability
// and an optional bandwidth. Links use Config.Link unless overridden with SetLink.
//
// # Datagrams
//
// Send models peer traffic between nodes. A datagram may be lost, duplicated (each copy has
// its own delay) and reordered with respect to other datagrams on the same link, because
// delays are drawn independently and ReorderProb adds extra delay to some of them. Send
// returns the arrival times of the copies; none if the datagram is lost or the link is cut.
// A partition that starts while a datagram is in flight drops it too: the simulator calls
// Connected(from, to) when the datagram arrives and discards it if the link is cut then.
//
// # Streams
//
// A stream models an ordered connection (a client's TCP connection to a broker, or any
// connection between nodes). While a stream is up, the messages sent in one direction arrive
// exactly once and in the order they were sent (each arrival is at or after the previous
// arrival in that direction); there is no loss, duplication or reordering. A stream breaks
// when a fault cuts its path in either direction, when the simulator calls Break, or at
// random with the link's StreamBreakProb per message sent. A broken stream stays broken; the
// client reconnects with a new Open. Messages in flight on a stream that breaks are lost: the
// simulator calls Broken(id) when a stream message arrives and discards it if the stream has
// broken since. Every break is reported to the simulator exactly once (fault calls return
// the streams they broke; StreamSend returns StreamBroke), so that it can tell both ends the
// connection closed. Opening a stream is instantaneous (there is no handshake delay) and
// fails when the path is cut, like a connection attempt that cannot reach its peer. Close
// releases a stream that ended without breaking; at most Config.StreamsOpenMax streams are
// open at once, and Open fails beyond that.
//
// Time given to netsim must never go backwards: a call with an earlier time than a previous
// call panics, because FIFO streams and clogs depend on it.
//
// # Faults
//
// Partitions cut links: Isolate, Split, CutOneWay and Bridge build Fault values, and
// Net.Apply applies them. Cuts accumulate until Heal removes them all. A cut link drops
// every datagram sent on it (and those in flight, through Connected), and breaks every
// stream whose path it cuts in either direction.
//
// Partitions are about nodes. Isolate(a) and Split(side) cut nodes from nodes; a client is
// cut from a node only when the client's address is named in the fault: a client listed in
// a Split side belongs to that side and loses the nodes of the other side, and Isolate of a
// client cuts it from every node. A client that is not named keeps all its links, which is
// how a Jepsen-style test keeps talking to both halves of a split cluster. CutOneWay and
// Bridge name their addresses explicitly and apply to nodes and clients alike. A link from
// an address to itself is never cut.
//
// Clog stalls one link until a given time: messages sent on a clogged link are held and
// leave when the clog ends, then take their normal delay. Nothing is dropped and no stream
// breaks. A message's arrival time is fixed when it is sent, so a clog that starts while a
// message is in flight does not hold that message, and Heal does not hurry messages already
// held by a clog (they still leave at the clog's end).
//
// # What is not modelled
//
// There is no congestion control, no packet-level TCP (a stream message is one unit), no
// connection handshake or graceful shutdown timing, and no routing: every pair of addresses
// is one direct link. Bandwidth is modelled only when LinkConfig.BytesPerSecond is set: a
// link then sends one message at a time, so a large message delays the ones behind it on the
// same link (datagrams and stream messages share the link).
package netsim
