package kafka

import (
	"math"
	"math/rand/v2"
	"time"
)

// Incremental fetch sessions (KIP-227), as Apache Kafka's broker keeps them
// (FetchSession.scala): a consumer's full fetch with SessionEpoch 0 creates a session
// holding its partitions, with each one's fetch parameters and what the consumer was
// last told of it (high watermark, last stable offset, log start). Its incremental
// fetches then name only the partitions whose parameters changed, and ForgottenTopics
// those it stopped reading; the answer lists only the partitions with something new.
//
// The cache is bounded in three ways: sessions (max.incremental.fetch.session.cache.slots),
// partitions per session (FetchSessionPartitionsMax) and partitions across the cache
// (FetchSessionCachePartitionsMax). A full fetch that finds no room, even after an
// eviction, is answered without a session, as in Kafka; an incremental fetch that would
// take its session past a bound closes it and is answered as a sessionless fetch of the
// partitions it would have held.
//
// A session belongs to the principal that created it: another principal naming its id
// is answered FETCH_SESSION_ID_NOT_FOUND and cannot close it.

// FetchSessionSlotsDefault is max.incremental.fetch.session.cache.slots' default, Kafka's.
const FetchSessionSlotsDefault = 1000

// FetchSessionSlotsMax is the most sessions a broker may be configured to keep.
const FetchSessionSlotsMax = 100_000

// FetchSessionPartitionsMax bounds the partitions of one session: a consumer reading more
// from one broker fetches without a session (a full fetch each time), as when the cache
// is full. Kafka has no such bound; with it, what one session holds is at most about
// 1000 × (80 bytes + a topic name of at most 249).
const FetchSessionPartitionsMax = 1000

// FetchSessionCachePartitionsMax bounds the partitions of all sessions of a broker
// together (a few tens of MiB at most).
const FetchSessionCachePartitionsMax = 100_000

// fetchSessionIdleEvict is Kafka's MinIncrementalFetchSessionEvictionMs: a session unused
// this long may be evicted by any new one, and one created this long ago by a larger one.
const fetchSessionIdleEvict = int64(2 * time.Minute)

// topicNameMax is Kafka's longest topic name. A name session keeps no partition of a
// longer name: no such topic can exist, and the cache holds no name longer than this.
const topicNameMax = 249

// sessionKey names a partition in a session: by topic id in a session of topic ids
// (Fetch v13+), by name otherwise.
type sessionKey struct {
	id   [16]byte
	name string
	part int32
}

// sessionPart is one partition of a session: what the client last asked for it and
// what it was last told of it. told* are -1 before the first answer and hw is -1 after
// an error, so that the partition is answered again once the error clears (Kafka's
// CachedPartition).
type sessionPart struct {
	key         sessionKey
	fetchOffset int64
	leaderEpoch int32
	maxBytes    int32
	hw, lso     int64
	logStart    int64
}

// fetchSession is one session. Invariant: index holds exactly the partitions of parts,
// and len(parts) <= FetchSessionPartitionsMax.
type fetchSession struct {
	id        int32
	epoch     int32 // the epoch the next incremental fetch must carry
	principal string
	topicIDs  bool // created at Fetch v13+: partitions are named by topic id
	parts     []*sessionPart
	index     map[sessionKey]*sessionPart
	created   int64
	used      int64
	gone      bool // removed from the cache (evicted or closed)
}

// FetchSessionStats describes a broker's fetch sessions, for metrics and tests.
type FetchSessionStats struct {
	Sessions   int // sessions in the cache
	Partitions int // their partitions
	// Created counts sessions created, Incremental incremental fetches answered within a
	// session, Evicted sessions evicted to make room, NoRoom full fetches answered
	// without a session for want of room.
	Created, Incremental, Evicted, NoRoom int64
}

// FetchSessions is a broker's fetch session cache. The zero value is not usable: see
// NewFetchSessions.
type FetchSessions struct {
	slots int
	rng   *rand.Rand
	byID  map[int32]*fetchSession
	// parts counts the partitions of every session in byID.
	parts int
	stats FetchSessionStats
}

// NewFetchSessions returns a cache of at most slots sessions (0: none, every fetch is
// sessionless) whose ids rng draws.
func NewFetchSessions(slots int, rng *rand.Rand) *FetchSessions {
	return &FetchSessions{slots: min(max(slots, 0), FetchSessionSlotsMax), rng: rng, byID: map[int32]*fetchSession{}}
}

// Stats returns the cache's counts.
func (c *FetchSessions) Stats() FetchSessionStats {
	s := c.stats
	s.Sessions, s.Partitions = len(c.byID), c.parts
	return s
}

// nextEpoch is the epoch after e, wrapping past MaxInt32 to 1 (Kafka's
// FetchMetadata.nextEpoch).
func nextEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// lookup returns the session id names for principal, or nil: a session of another
// principal is not found.
func (c *FetchSessions) lookup(id int32, principal string) *fetchSession {
	if c == nil {
		return nil
	}
	s := c.byID[id]
	if s == nil || s.principal != principal {
		return nil
	}
	return s
}

// remove takes s out of the cache.
func (c *FetchSessions) remove(s *fetchSession) {
	if s.gone {
		return
	}
	s.gone = true
	delete(c.byID, s.id)
	c.parts -= len(s.parts)
}

// touch marks s used at now.
func (c *FetchSessions) touch(s *fetchSession, now int64) { s.used = now }

// resize accounts for s changing from before partitions to its current count.
func (c *FetchSessions) resize(s *fetchSession, before int) {
	if !s.gone {
		c.parts += len(s.parts) - before
	}
}

// fits reports whether a session of size partitions may be added now.
func (c *FetchSessions) fits(size int) bool {
	return len(c.byID) < c.slots && c.parts+size <= FetchSessionCachePartitionsMax
}

// create adds a session of principal holding parts, evicting as Kafka does when the
// cache is full, and returns it; nil when there is no room.
func (c *FetchSessions) create(now int64, principal string, topicIDs bool, parts []*sessionPart) *fetchSession {
	if c == nil || c.slots == 0 || len(parts) == 0 || len(parts) > FetchSessionPartitionsMax {
		return nil
	}
	for !c.fits(len(parts)) {
		if !c.evictFor(now, len(parts)) {
			c.stats.NoRoom++
			return nil
		}
	}
	s := &fetchSession{id: c.newID(), epoch: 1, principal: principal, topicIDs: topicIDs,
		parts: parts, index: make(map[sessionKey]*sessionPart, len(parts)), created: now, used: now}
	for _, p := range parts {
		s.index[p.key] = p
	}
	c.byID[s.id] = s
	c.parts += len(parts)
	c.stats.Created++
	return s
}

// newID draws an id in [1, MaxInt32) that no session has.
func (c *FetchSessions) newID() int32 {
	for {
		id := 1 + c.rng.Int32N(math.MaxInt32-1)
		if c.byID[id] == nil {
			return id
		}
	}
}

// evictFor evicts one session to make room for a new one of size partitions, by
// Kafka's rule (FetchSessionCache.tryEvict, all sessions being unprivileged consumers):
// the least recently used session if it has been idle longer than
// fetchSessionIdleEvict; otherwise, among the sessions created longer ago than that,
// the smallest (ties: lowest id), if it is smaller than the new one. It reports whether
// it evicted one.
func (c *FetchSessions) evictFor(now int64, size int) bool {
	var idlest, smallest *fetchSession
	// order-independent: two minimums under total orders (ids are unique).
	for _, s := range c.byID {
		if idlest == nil || s.used < idlest.used || (s.used == idlest.used && s.id < idlest.id) {
			idlest = s
		}
		if now-s.created > fetchSessionIdleEvict &&
			(smallest == nil || len(s.parts) < len(smallest.parts) || (len(s.parts) == len(smallest.parts) && s.id < smallest.id)) {
			smallest = s
		}
	}
	var victim *fetchSession
	switch {
	case idlest == nil:
		return false
	case now-idlest.used > fetchSessionIdleEvict:
		victim = idlest
	case smallest != nil && size > len(smallest.parts):
		victim = smallest
	default:
		return false
	}
	c.remove(victim)
	c.stats.Evicted++
	return true
}

// update applies an incremental fetch's partitions and forgotten partitions to s, in
// Kafka's order: added or updated first, then forgotten. It reports false when s is
// then past a bound, or would hold a name longer than any topic's; the caller closes it.
func (c *FetchSessions) update(s *fetchSession, upserts []*sessionPart, forget []sessionKey) bool {
	before := len(s.parts)
	long := false
	for _, p := range upserts {
		long = long || len(p.key.name) > topicNameMax
		if old := s.index[p.key]; old != nil {
			old.fetchOffset, old.leaderEpoch, old.maxBytes = p.fetchOffset, p.leaderEpoch, p.maxBytes
			continue
		}
		s.index[p.key] = p
		s.parts = append(s.parts, p)
	}
	if len(forget) > 0 {
		drop := map[sessionKey]bool{}
		for _, k := range forget {
			if s.index[k] != nil {
				drop[k] = true
				delete(s.index, k)
			}
		}
		s.parts = deleteKeys(s.parts, drop)
	}
	c.resize(s, before)
	return !long && len(s.parts) <= FetchSessionPartitionsMax && c.parts <= FetchSessionCachePartitionsMax
}

func deleteKeys(parts []*sessionPart, drop map[sessionKey]bool) []*sessionPart {
	out := parts[:0]
	for _, p := range parts {
		if !drop[p.key] {
			out = append(out, p)
		}
	}
	clear(parts[len(out):])
	return out
}

// answered updates what a partition's client was told by out and reports whether out
// goes into an incremental response: it has records, an error, a preferred replica, or
// a high watermark, last stable offset or log start the client was not told yet
// (Kafka's CachedPartition.maybeUpdateResponseData, which does not look at the last
// stable offset: it moves with the high watermark unless a transaction is open).
func (p *sessionPart) answered(err int16, hw, lso, logStart int64, records int, preferred int32) bool {
	changed := records > 0 || preferred >= 0
	if hw != p.hw || lso != p.lso || logStart != p.logStart {
		changed = true
		p.hw, p.lso, p.logStart = hw, lso, logStart
	}
	if err != 0 {
		p.hw = -1
		changed = true
	}
	return changed
}

// rotate moves the partitions that returned records to the end of the session's order,
// keeping the order within each group, so that the next fetch reads the others first
// and a byte budget is shared out in turn (Kafka does the same).
func (s *fetchSession) rotate(hadRecords map[*sessionPart]bool) {
	if len(hadRecords) == 0 {
		return
	}
	rest := make([]*sessionPart, 0, len(s.parts))
	var moved []*sessionPart
	for _, p := range s.parts {
		if hadRecords[p] {
			moved = append(moved, p)
		} else {
			rest = append(rest, p)
		}
	}
	s.parts = append(rest, moved...)
}
