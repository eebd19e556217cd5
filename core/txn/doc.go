// Package txn is seedlog's transaction coordinator: InitProducerID for transactional
// producers, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn, the transaction markers that
// end a transaction on its partitions, the abort of transactions that outlive their
// timeout, and DescribeTransactions and ListTransactions.
//
// A broker runs one Coordinator for each partition of the internal topic
// __transaction_state it leads. A transactional id lives in partition
// PartitionFor(txnID, n), hashed as Kafka hashes it, so clients find the coordinator they
// would find in Kafka. Like all of core it is a pure state machine: time arrives as `now`
// (nanoseconds on the broker's clock), and the world is reached only through the Log
// interface (the partition) and two functions of Config: NewProducerID (fresh producer
// ids) and SendMarkers (the markers of one transaction to the leaders of its partitions).
// Replies are callbacks, invoked once the coordinator's state has settled, before the
// call that caused them returns (a request, Tick, Close, or a callback); a reply may call
// back into the coordinator. A callback that arrives outside any input carries no time:
// a retry it schedules starts at the next input, and Deadline asks for that input at once.
//
// # States
//
// Each transactional id has one record in the log holding its whole state: producer id
// and epoch, transaction timeout, state, the partitions of the open transaction, and when
// it began. The states, numbered as Kafka stores them:
//
//	Empty           a producer was initialized; no transaction is open
//	Ongoing         a transaction is open on the partitions listed
//	PrepareCommit   the transaction's end is decided; its markers are being written
//	PrepareAbort
//	CompleteCommit  every partition has its marker; the next transaction may begin
//	CompleteAbort
//	Dead, PrepareEpochFence  never kept by seedlog (Dead is read as deleted)
//
// InitProducerID gives a new id a fresh producer id at epoch 0 (Empty); a known id in
// Empty or Complete* gets the next epoch, and a fresh producer id at epoch 0 once epoch
// 32766 is used. AddPartitions and AddOffsets (which adds the group's __consumer_offsets
// partition) move Empty and Complete* to Ongoing, recording the start time, and add
// partitions to an Ongoing transaction. EndTxn moves Ongoing to Prepare*, then the markers
// are written, then the coordinator writes Complete* with no partitions. An EndTxn
// repeated after its transaction completed with the same outcome succeeds (a retry after
// a lost answer); one of the other outcome, or in Empty, gets INVALID_TXN_STATE; one
// while the same outcome's markers are out gets CONCURRENT_TRANSACTIONS.
//
// # Transaction version 2
//
// A client of transaction version 2 (KIP-890 part 2: EndTxn v5, and the implicit adds
// of AddPartitionsImplicit that its Produce v12 and TxnOffsetCommit v5 cause) gets its
// epoch bumped by every end: the Prepare* record holds the new epoch (a new producer id
// once the epoch is used up, kept as nextPid until the Complete* record makes it the
// producer's), its markers carry it, and EndTxnVersion answers it. Retries with the
// epoch before the bump are answered as the first request was (endTxnV2 has the rules),
// and an abort with nothing open bumps the epoch too. The record keeps the version (tv)
// and is written in Kafka's value version 1.
//
// # Verification
//
// Verify answers a partition leader's question before a transactional write opens the
// producer's transaction on a partition (KIP-890 part 1): a Produce batch, or the
// offsets of a TxnOffsetCommit below v5 on the group's __consumer_offsets partition. It
// changes nothing; a transaction that ended (or never held the partition) is
// TRANSACTION_ABORTABLE, so that a write arriving after its transaction's abort marker
// cannot open a transaction nobody ends. Brokers ask it with AddPartitionsToTxn v4
// (VerifyOnly); a v4 transaction without VerifyOnly is AddPartitions, batched.
//
// # Durability
//
// Every change is written to the log first and takes effect only once durable on the ISR:
// requests are answered, Describe shows the new state, and markers are sent only then. A
// write the log refuses changes nothing; the request gets NOT_COORDINATOR (the
// partition's leadership moved), UNKNOWN_SERVER_ERROR (the record is too large) or
// COORDINATOR_NOT_AVAILABLE (retry). One write or marker round runs per transactional id
// at a time, and requests that would change the id meanwhile get
// CONCURRENT_TRANSACTIONS, so the records of an id reach the log in the order they were
// decided and the last one is its state. Markers for an end are sent only once its
// Prepare* record is durable, so a coordinator taking over always knows every end whose
// markers a partition may have seen, and finishes it.
//
// # Fencing
//
// A producer is its producer id and epoch; requests carrying another producer id get
// INVALID_PRODUCER_ID_MAPPING, another epoch PRODUCER_FENCED. InitProducerID bumps the
// epoch, which fences every older instance of the producer. If it finds a transaction
// Ongoing, that transaction belonged to an older instance: the coordinator aborts it with
// the epoch bumped, so its markers fence the old instance on every partition of the
// transaction (they refuse its epoch from then on), and answers CONCURRENT_TRANSACTIONS
// until the abort completes; the producer's retry then gets the epoch after that.
// InitProducerID naming the producer's current id and epoch (KIP-360) must name the
// current ones (else PRODUCER_FENCED), except for a retry of the KIP-360 call that made
// the current epoch, which gets the same answer again.
//
// Markers carry Config.CoordinatorEpoch, the leader epoch of the __transaction_state
// partition, so partitions refuse markers from a coordinator that was replaced.
//
// # Markers
//
// A marker round goes to every partition still without its marker; SendMarkers answers
// with a code per partition. A partition is done when it answers 0, when its topic is gone
// (UNKNOWN_TOPIC_OR_PARTITION), or when it refuses the marker for good
// (INVALID_PRODUCER_EPOCH: the producer has a newer epoch there;
// TRANSACTION_COORDINATOR_FENCED: a newer coordinator wrote to it), which Config.Events
// hears of. The others are sent again after Config.MarkerRetry. When every partition is
// done the Complete* record is written, and written again after MarkerRetry if the log
// refuses it.
//
// # Timeouts
//
// Every Config.AbortCheckInterval, Tick aborts each Ongoing transaction that began more
// than its timeout ago, with the epoch bumped as for fencing, so its producer cannot go
// on writing it. InitProducerID refuses timeouts above Config.MaxTimeout
// (INVALID_TRANSACTION_TIMEOUT).
//
// # Expiry
//
// An id in Empty, CompleteCommit or CompleteAbort whose record was last updated
// Config.IDExpiration ago (transactional.id.expiration.ms, 7 days) is removed: its
// tombstone is written, and once durable the id is forgotten (Event TxnIDExpired); the
// next InitProducerID starts it over with a fresh producer id. An id with a transaction
// open or ending never expires. One Tick expires at most expirePerTick ids.
//
// # Timers
//
// Marker retries and expiries are kept in queues ordered by when they are due
// (timers.go), and the Ongoing ids in a set of their own, so Tick and Deadline cost the
// ids that are due, not every id the coordinator holds.
//
// # Recovery
//
// A new coordinator (leadership of the partition moved, or the broker restarted) replays
// the partition through Log.Load, answering COORDINATOR_LOAD_IN_PROGRESS until it is
// done: the last record of each id wins, and a tombstone deletes it. It then resumes the
// markers of every Prepare* transaction with its own coordinator epoch, and times out
// Ongoing transactions from their recorded start. A batch that fails its checks, or a
// record that does not decode, fails the load (NOT_COORDINATOR from then on; LoadErr says
// why): skipping it could bring back an older epoch or forget a decided end. When
// leadership moves away the node calls Close: every reply still waiting gets
// NOT_COORDINATOR, marker rounds stop, and later answers are ignored.
//
// # Records
//
// The records are Kafka's TransactionLogKey and TransactionLogValue version 0 (key:
// int16 version, the id as an int16-length string; value: version, producer id, epoch,
// timeout ms, state, the partitions by topic, last update ms, start ms). Decoding bounds
// every count and length before allocating: ids to 32767 bytes, topic names to 249,
// partitions of a transaction to PartitionsMax. Requests are held to the same bounds
// (INVALID_REQUEST), so every record written can be read back.
//
// # Limits and differences from Kafka
//
//   - At most Config.TxnsMax transactional ids per coordinator: InitProducerID for a new
//     one beyond gets COORDINATOR_NOT_AVAILABLE.
//   - Idle ids expire as soon as they are due, not at Kafka's hourly check.
//   - InitProducerID that fences an Ongoing transaction answers CONCURRENT_TRANSACTIONS at
//     once (Kafka waits for the abort's record first); the producer retries either way.
//   - The producer id and epoch a KIP-360 retry may name are kept in memory only (as in
//     Kafka's version 0 records): after failover such a retry is fenced.
//   - Value version 1 (flexible, Kafka 3.5+) is not read; seedlog writes version 0.
package txn
