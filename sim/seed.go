package sim

import (
	"math/rand/v2"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Randomness of a run: one root seed, independent streams derived from it by purpose.
//
// The stream for (root, purpose, index) is a PCG seeded with two 64-bit words:
// xxhash64("<root>/<purpose>/<index>") and xxhash64("<root>/<purpose>/<index>/2"). Adding a
// draw to one purpose therefore never shifts the draws of another, so, for example, a
// change in the workload does not change the network's delays. The purposes:
//
//	config   the swarm configuration of the seed (index 0)
//	net      the network model (index 0)
//	disk     node i's disk: latencies and injected faults (index = node id)
//	crash    node i's crash images (index = node id)
//	core     a node incarnation's core seed (index = node id * 1_000_000 + incarnation)
//	clock    clock skew and drift (index 0)
//	faults   the fault schedule (index 0)
//	workload what the clients do (index 0)
//	client   client i's own choices (index = client id)
//	data     the data workload's configuration (index 0) and later additions to the
//	         configuration (index 1, then 2, then 3: controlled shutdowns; 8: the
//	         offsets' lifetimes)
//	auth     peer authentication: the cluster secret, then the handshakes' nonces
//	         (index 0)
//	attack   the byzantine client: whether a seed has one and how it acts (index 0),
//	         what it sends (index 1)
//	shell    how the node shells batch their work (index 0: ShellConfig)
//	disk-batch   node i's disk batch boundaries (index = node id)
//	input-batch  node i's input batches (index = node id)
//	quota    whether a seed runs with a client quota, and its rate (index 0)
//	leaders  the nodes' leader rebalancing and the elector (index 0)
//	sessions which readers fetch with fetch sessions, and the brokers' session slots
//	         (index 0)
//	timing   whether a seed runs seedlog's default timeouts rather than scaled
//	         Kafka ones (index 0)
//	partcap  whether a seed runs a small max.broker.partitions, and its value
//	         (index 0)
//	txn      whether a seed runs transactional producers, what they do, and which
//	         readers and members read committed (index 0)
//	txn-fates    what befalls a transactional id's transactions: crashes, zombies,
//	         idles past the timeout, sloppy aborts (index = the id's first client)
const (
	streamConfig     = "config"
	streamNet        = "net"
	streamDisk       = "disk"
	streamCrash      = "crash"
	streamCore       = "core"
	streamClock      = "clock"
	streamFaults     = "faults"
	streamWorkload   = "workload"
	streamClient     = "client"
	streamDataConfig = "data"
	streamAuth       = "auth"
	streamSASL       = "sasl"
	streamAttack     = "attack"
	streamShell      = "shell"
	streamDiskBatch  = "disk-batch"
	streamInputBatch = "input-batch"
	streamQuota      = "quota"
	streamLeaders    = "leaders"
	streamMoves      = "moves"
	streamSessions   = "sessions"
	streamTiming     = "timing"
	streamBrokerCap  = "partcap"
)

// streamSeeds returns the two PCG seed words of a stream.
func streamSeeds(root uint64, purpose string, index int64) (uint64, uint64) {
	key := make([]byte, 0, 64)
	key = strconv.AppendUint(key, root, 10)
	key = append(key, '/')
	key = append(key, purpose...)
	key = append(key, '/')
	key = strconv.AppendInt(key, index, 10)
	a := xxhash.Sum64(key)
	b := xxhash.Sum64(append(key, "/2"...))
	return a, b
}

// Stream returns the random stream of a run for a purpose and index.
func Stream(root uint64, purpose string, index int64) *rand.Rand {
	a, b := streamSeeds(root, purpose, index)
	return rand.New(rand.NewPCG(a, b))
}

// coreSeed is the core.Config.Seed of a node incarnation: distinct per incarnation, as
// the node requires.
func coreSeed(root uint64, node int32, incarnation uint32) uint64 {
	a, _ := streamSeeds(root, streamCore, int64(node)*1_000_000+int64(incarnation))
	return a
}
