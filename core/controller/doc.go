// Package controller is seedlog's active controller: the decisions taken on the node
// that leads the controller quorum. It tracks broker liveness from heartbeats, fences
// brokers, places replicas, elects partition leaders from the ISR, accepts ISR changes
// and hands out producer ids.
//
// It never changes the metadata image itself. Every decision is a list of
// core/metadata records, checked against the pending image (the committed image plus
// everything proposed and not yet committed) and handed to the quorum through a
// Proposer. A response leaves Ready only once the committed image has reached every
// record proposed before it was computed, so what a client is told is always durable
// and never ahead of what brokers will see. When the node loses quorum leadership,
// Deactivate fails the waiting requests with NOT_CONTROLLER; the pending image is
// rebuilt from the committed one at the next Activate.
//
// Every node runs a Controller; it is active only between Activate and Deactivate.
// Like all of core it is a pure state machine: time arrives as `now` (nanoseconds on
// the node's clock), randomness from Config.Rand, and brokers and topics are visited in
// sorted order, so a seed replays exactly.
//
// # Brokers
//
// A broker registers (BrokerRegistration) and starts fenced; its broker epoch is the
// offset of its RegisterBroker record. Re-registering the same incarnation returns the
// existing epoch. A different incarnation under the same id (the broker restarted) is
// refused with DUPLICATE_BROKER_REGISTRATION while the current registration is unfenced
// and a lease it got may still run (leaseGoneAt: LeaseDuration plus QuorumFetchTimeout
// after the last heartbeat, stretched by drift, which the lease inequality puts before
// the session's end). After that the current registration is fenced at once, its
// leaderships move, and the new one replaces it, without waiting for the session.
//
// Heartbeats (BrokerHeartbeat) keep the session alive. A fenced broker is unfenced once
// it reports a metadata offset of at least its CatchUpOffset (its registration, latest
// fencing, or latest lost leadership; see core/metadata) and does not ask to stay
// fenced. Kafka only requires the registration offset; seedlog requires the rest so that
// a broker that gets a lease back has already seen every leadership it lost.
//
// A broker not heard from for SessionTimeout is fenced. A broker asking for WantFence is
// fenced too, and one asking for WantShutdown enters controlled shutdown. For both, the
// broker must stop leading before it sends that heartbeat: the controller moves its
// leaderships at once, without waiting for its lease to run out. Once a broker in
// controlled shutdown leads nothing, it is fenced and told ShouldShutdown.
//
// # Leadership rules
//
// Whenever a broker is fenced, shuts down or is unfenced, every partition is checked
// (planChange):
//
//   - a fenced or shutting-down broker leaves every ISR where other members remain
//     (KIP-841); the last member stays, so the ISR never empties;
//   - a partition whose leader is fenced or shutting down, or that has no leader, gets
//     the first replica in replica order that is in the ISR and eligible (registered,
//     unfenced, not shutting down), or no leader at all when none is: seedlog never
//     elects outside the ISR. A leaderless partition thus elects a broker of its ISR
//     when that broker is unfenced.
//
// A preferred election (ElectLeaders, or the leader rebalance of
// auto.leader.rebalance.enable) moves a leadership to the partition's first replica
// while the old leader is alive; elect.go explains how the old and new leaders are kept
// from serving at once.
//
// Work that does not fit in one proposal (RecordsPerProposalMax) continues on Tick, as
// does work after Activate, which finishes whatever a previous controller left undone.
//
// # Leases
//
// A partition leader serves only while it holds a lease: LeaseDuration, on its own
// clock, from the moment it sent a heartbeat that a controller acknowledged with
// IsFenced=false. Leadership moves away from a broker only when it is fenced (or has
// asked to stop leading), and the controller fences it only after SessionTimeout on the
// controller's clock without hearing from it. For a deposed leader to stop serving
// before its successor starts, the lease must end before the fencing.
//
// Clocks may run fast or slow by a factor of at most 1±ρ (ρ = ClockDriftMax), so a
// duration d on a clock lasts between d/(1+ρ) and d/(1-ρ) of real time. Take the
// broker's last acknowledged heartbeat, sent at real time s.
//
// If the controller that fences the broker is the one that acknowledged that heartbeat,
// it received it at r >= s and fences at r + SessionTimeout/(1+ρ) or later, while the
// lease ends by s + LeaseDuration/(1-ρ).
//
// The heartbeat may instead have been acknowledged by a controller that had already
// been deposed without knowing it. A new quorum leader is elected at some time e by a
// majority, and that majority stops following the old leader; the old leader keeps
// acting as leader for at most QuorumFetchTimeout on its own clock after its last
// contact with a majority, so it acknowledges nothing after e + QuorumFetchTimeout/(1-ρ).
// The new controller activates at a >= e and, not knowing what its predecessor
// acknowledged, treats every broker as heard from at a: it fences no one before
// a + SessionTimeout/(1+ρ). The lease ends by
//
//	s + LeaseDuration/(1-ρ) <= e + (QuorumFetchTimeout + LeaseDuration)/(1-ρ).
//
// Both cases are safe when
//
//	(LeaseDuration + QuorumFetchTimeout) / (1-ρ) < SessionTimeout / (1+ρ),
//
// that is
//
//	(LeaseDuration + QuorumFetchTimeout) * (1+ρ) < SessionTimeout * (1-ρ),
//
// which Config.Validate enforces. The new leader of a moved partition learns of its
// leadership from a record committed after the fencing, so it starts later still.
//
// Two details keep the argument whole. A heartbeat that arrives once the controller
// has decided to fence the broker is answered IsFenced=true, and every answer waits for
// the records proposed before it, so no acknowledgement can contradict a fencing in
// flight. And a fenced broker gets a lease again only after reporting that it has
// applied every record that took a leadership from it (CatchUpOffset), so it cannot
// resume leading a partition that moved on while it was away.
//
// # Requests
//
// Handle accepts BrokerRegistration (62), BrokerHeartbeat (63), AlterPartition (56),
// CreateTopics (19), DeleteTopics (20), CreatePartitions (37), IncrementalAlterConfigs
// (44), AlterConfigs (33) and AllocateProducerIDs (67), at every version kmsg knows,
// answering at the request's version. The broker-only APIs (56, 62, 63, 67) must come
// from the broker they name (Request.From), else CLUSTER_AUTHORIZATION_FAILED.
//
// Deviations from Apache Kafka, all deliberate:
//
//   - topic names that collide with an existing one when '.' and '_' are identified are
//     refused with INVALID_TOPIC_EXCEPTION (as KRaft does; ZooKeeper-era Kafka warned);
//   - topic configs are checked against metadata.TopicConfigDefs; unknown keys and bad
//     values get INVALID_CONFIG; unclean.leader.election.enable=true is refused;
//   - broker configs are accepted for the cluster default (empty name) only, with the
//     broker-level keys of that table (log.retention.ms, log.flush, ...);
//   - CreateTopics and CreatePartitions ignore TimeoutMillis: the answer comes when the
//     records commit;
//   - AlterPartition changes the leader in one case only: a leader may ask for its ISR
//     without itself, because its log is damaged (synced data failed validation) and
//     another member may hold the data intact. It stopped serving before asking; it
//     leaves the ISR and the first eligible member in replica order leads (none while
//     every member is fenced). Out of the ISR it cannot be elected until it fetched the
//     damage back and its leader let it in again. It refuses LeaderRecoveryState
//     RECOVERING, which only follows an unclean election.
//
// Replica placement (CreateTopics without an assignment, CreatePartitions) uses the
// eligible brokers only. They are laid out in a cycle that visits the racks in turn, and
// partition p takes rf consecutive slots of the cycle from a random start (Config.Rand),
// its least-leading member first as leader. Replica counts per broker then differ by at
// most one; with no racks or racks of equal size, leader counts do too and every
// partition spans min(rf, racks) racks. With uneven racks, a replica that would repeat a
// rack is swapped for the least loaded broker of an unused rack, so partitions still
// span min(rf, racks) racks while counts may spread further. A manual assignment may
// name registered brokers that are fenced; they start outside the ISR, and the leader is
// the first eligible replica.
//
// # Bounds
//
// Waiting requests (WaitingMax), records per proposal (RecordsPerProposalMax), records
// per admin request (RequestRecordsMax) and registered brokers (BrokersMax) are
// bounded; the volatile maps are keyed by registered brokers only. The replicas one
// broker holds are bounded by max.broker.partitions (Config.BrokerPartitionsMax):
// CreateTopics, CreatePartitions and AlterPartitionReassignments that would go past it
// get POLICY_VIOLATION (brokercap.go).
package controller
