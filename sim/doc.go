// Package sim is seedlog's deterministic simulator: a whole cluster of real core nodes,
// each over the shared disk executor (diskexec) and its own simulated disk (disksim), a
// simulated network (netsim), simulated Kafka clients, fault injection and checkers, all
// driven by one event queue on one goroutine. A run is a function of its seed.
//
// # The world
//
// One queue of events ordered by (virtual time, sequence number): ticks at each node's
// deadline, datagrams and stream messages arriving, disk completions, client timers,
// faults and phase changes. The sequence number makes ties resolve in scheduling order.
// There are no fixed ticks: time jumps to the next event.
//
// Randomness comes from one root seed; independent streams are derived from it per
// purpose (see seed.go), so changing how one part draws never shifts another.
//
// Each node has its own clock: a fixed Unix base plus a skew plus virtual time scaled by
// (1 + drift), with |drift| within half of the configured ClockDriftMax, plus forward jumps
// within the rest of the budget (see clock.go). Deadlines the node asks for are converted
// from its clock to virtual time; each node has at most one live Tick event (a generation
// counter makes older ones stale).
//
// # The node shell
//
// After every input the shell drains the node and acts on its output: disk ops are queued
// and carried out by the executor when they complete (after a latency drawn from disksim,
// in emission order), and their Done is delivered then; messages become netsim datagrams;
// responses are framed (wire.AppendResponse) and sent on the client's stream; Close breaks
// the stream; notes go to the trace and the coverage counters; a Fatal output crashes the
// node, which restarts from its disk. Running an op at its completion rather than at its
// emission means a crash loses the ops still queued, as a real crash loses what the device
// had not done yet: an output released before its op completed is then caught.
//
// Node faults: a crash drops the process and its pending events (an incarnation number
// makes them stale), replaces the disk with disksim's crash image and breaks the node's
// connections; a restart recovers with diskexec on that image and starts a new core node
// with a new seed. A pause buffers the node's inputs in order while its clock runs on; on
// resume they are delivered, then a Tick. Half of the crashes are armed to strike while
// the node's next disk op is in flight, where durability bugs live.
//
// # Runs
//
// Each seed first draws its configuration (Draw: cluster shape and roles, timing scale,
// clocks, fault kinds and rates, workload mix) and prints it. The safety phase runs the
// workload under faults within the fault budget (faults.go). The liveness phase then heals
// the network, restarts crashed nodes, resumes paused ones and stops all faults: the
// quorum must elect a leader within ten election timeouts and a metadata operation must
// succeed within Config.LivenessBound. Final reads then read every topic, resolving the
// operations whose outcome was unknown.
//
// # Clients and histories
//
// Clients speak the Kafka protocol with kmsg over netsim streams: an ApiVersions handshake
// per connection (KIP-511 fallback), versions picked per request by the seed's policy,
// correlation ids matched in order, per-request timeouts, metadata refresh and controller
// discovery. Every operation is recorded with its invocation and completion times; one
// whose effect is unknown (a timeout, a broken connection, an error that means "maybe") is
// indeterminate and may take effect at any time after its invocation.
//
// # Checkers
//
// Invariants run after every step (quorum: one leader per epoch, committed records never
// lost or changed on any node, logs agreeing up to the smaller high watermark, epochs and
// high watermarks never decreasing, across restarts too; plus any Options.Invariants).
// After the run, Porcupine checks the metadata history per topic (a check that runs out
// of time is "unknown", never a pass), broker lists must only grow, and CheckLog checks
// produce/fetch histories. Coverage counts what each run exercised.
//
// # Traces
//
// Every input, output, fault and client operation is an event of the run's trace: hashed
// into the fingerprint always, kept only when asked (Options.KeepTrace), so replaying a
// seed costs nothing extra and a failing seed can be re-run with its trace kept.
package sim
