package partition

import "github.com/seedlog/seedlog/core/disk"

// epochCache is the leader epoch cache: for each epoch that wrote to the log, the offset
// of its first batch, ascending in both fields. It answers where an epoch ends, which is
// how replicas find the point where their logs diverge (KIP-101, KIP-279).
type epochCache []disk.EpochEntry

func (c epochCache) latest() int32 {
	if len(c) == 0 {
		return -1
	}
	return c[len(c)-1].Epoch
}

// endOffsetFor answers OffsetForLeaderEpoch for requested against a log ending at leo:
// the largest epoch <= requested the cache knows and the offset where it ends (the start
// of the next epoch, or leo for the latest one). When requested is older than every
// epoch known, the answer is requested itself ending where the first known epoch starts:
// anything below that was deleted from the log, so a follower must not keep more. (-1, -1)
// when nothing can be said.
func (c epochCache) endOffsetFor(requested int32, leo int64) (int32, int64) {
	if requested < 0 || len(c) == 0 {
		return -1, -1
	}
	if requested >= c.latest() {
		if requested == c.latest() {
			return requested, leo
		}
		// An epoch newer than any written here: the asker knows more than this log.
		// Its end in this log is this log's end, under the latest epoch.
		return c.latest(), leo
	}
	i := c.firstAbove(requested)
	if i == 0 {
		return requested, c[0].StartOffset
	}
	return c[i-1].Epoch, c[i].StartOffset
}

// firstAbove is the index of the first entry whose epoch is > epoch (len(c) if none).
func (c epochCache) firstAbove(epoch int32) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := (lo + hi) / 2
		if c[m].Epoch <= epoch {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// epochAt is the epoch of the batch holding offset, -1 if unknown.
func (c epochCache) epochAt(offset int64) int32 {
	e := int32(-1)
	for _, x := range c {
		if x.StartOffset > offset {
			break
		}
		e = x.Epoch
	}
	return e
}

// truncateFromEnd drops the epochs that start at or above offset.
func (c epochCache) truncateFromEnd(offset int64) (epochCache, bool) {
	n := len(c)
	for n > 0 && c[n-1].StartOffset >= offset {
		n--
	}
	return c[:n], n != len(c)
}

// truncateFromStart drops the epochs that end at or below offset, the new log start,
// and moves the start of the epoch holding it up to it.
func (c epochCache) truncateFromStart(offset int64) (epochCache, bool) {
	i := 0
	for i+1 < len(c) && c[i+1].StartOffset <= offset {
		i++
	}
	if len(c) == 0 || (i == 0 && c[0].StartOffset >= offset) {
		return c, false
	}
	out := c[i:]
	if out[0].StartOffset < offset {
		out[0].StartOffset = offset
	}
	return out, true
}

// assign records that epoch starts writing at offset, the log end. Entries starting at
// or after the log end are epochs that never wrote, and give way. It fails (ok false)
// when epoch is older than one that wrote below offset: the logs diverge.
func (c epochCache) assign(epoch int32, offset int64) (out epochCache, changed, ok bool) {
	c, changed = c.truncateFromEnd(offset)
	switch {
	case epoch < c.latest():
		return c, changed, false
	case epoch > c.latest():
		c = append(c, disk.EpochEntry{Epoch: epoch, StartOffset: offset})
		changed = true
	}
	return c, changed, true
}

// sanitize makes a recovered checkpoint consistent with a log spanning [start, leo):
// entries in order, none at or above leo, none wholly below start.
func sanitizeEpochs(in []disk.EpochEntry, start, leo int64) epochCache {
	var c epochCache
	for _, e := range in {
		if e.StartOffset >= leo || e.Epoch < 0 {
			continue
		}
		if n := len(c); n > 0 && (e.Epoch <= c[n-1].Epoch || e.StartOffset < c[n-1].StartOffset) {
			continue
		}
		if n := len(c); n > 0 && e.StartOffset == c[n-1].StartOffset {
			c[n-1] = e // the older epoch wrote nothing
			continue
		}
		c = append(c, e)
	}
	c, _ = c.truncateFromStart(start)
	return c
}

func maxEpoch(in []disk.EpochEntry) int32 {
	m := int32(-1)
	for _, e := range in {
		m = max(m, e.Epoch)
	}
	return m
}
