package partition

import (
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
)

// Damage to synced data (see "Damaged replicas" in the package doc). The replica keeps
// a copy of its log's fences: FenceDamaged ranges are local damage, which makes it no
// durable copy until it fetched them back; FenceLost ranges are gaps the partition
// declared lost and it copied.

// localDamage returns the start of the lowest damaged range of this log, ok false when
// there is none.
func (r *Replica) localDamage() (int64, bool) {
	for _, f := range r.fences {
		if f.Kind == disk.FenceDamaged {
			return f.From, true
		}
	}
	return 0, false
}

// unrepaired is localDamage as the protocol acts on it.
func (r *Replica) unrepaired() (int64, bool) {
	if r.on(plant.CorruptReplicaElectable) {
		return 0, false
	}
	return r.localDamage()
}

// othersInISR reports whether the committed ISR holds a replica other than this one.
func (r *Replica) othersInISR() bool {
	return slices.ContainsFunc(r.st.ISR, func(id int32) bool { return id != r.self() })
}

// mustResign reports whether this replica, leading, must give up: it holds damaged data
// while another in-sync replica may hold it intact.
func (r *Replica) mustResign() bool {
	_, damaged := r.unrepaired()
	return damaged && r.othersInISR()
}

// clipFences applies what a log operation did to the fences: keep only what lies in
// [r.startOffset, r.leo).
func (r *Replica) clipFences() { r.fences = disk.ClipFences(r.fences, r.startOffset, r.leo) }

// addFence records a fence the log gained, merged as the storage log merges it.
func (r *Replica) addFence(f disk.Fence) {
	r.fences = disk.AddFence(r.fences, f)
}

// checkDamage asks the disk to verify the part of the log holding offset, after a read
// of it failed validation. One check runs at a time: a reader meeting the damage again
// meanwhile gets a storage error and retries.
func (r *Replica) checkDamage(offset int64) {
	if r.checking {
		return
	}
	r.checking = true
	r.emit(disk.Op{Kind: disk.CheckDamage, Offset: offset}, pendingOp{purpose: opCheckDamage, offset: offset, truncs: r.truncs})
}

// damageChecked takes the outcome of a CheckDamage: the fences it added (none when the
// bad read was a transient fault). A truncation emitted since may have removed them, in
// which case they are dropped here too (a later read finds what is still there).
func (r *Replica) damageChecked(now int64, p pendingOp, d disk.Done) {
	r.checking = false
	if len(d.Fences) == 0 {
		r.note("read-retried", "offset %d reads back intact: the failed read was a transient fault", p.offset)
	} else if p.truncs == r.truncs {
		for _, f := range d.Fences {
			r.addFence(f)
			r.note("damaged", "offsets [%d, %d) failed their checksums on disk and are fenced: reads of them fail, the log keeps its end", f.From, f.To)
		}
		r.clipFences()
	}
	if r.loading != nil && r.loading.waitCheck {
		r.loading.waitCheck = false
		r.emitLoadRead()
		return
	}
	r.damageMoved(now)
}

// fenceMet records a fence a read or lookup ran into, when no truncation since may have
// removed it.
func (r *Replica) fenceMet(p pendingOp, fs []disk.Fence) {
	if p.truncs != r.truncs {
		return
	}
	for _, f := range fs {
		if !slices.Contains(r.fences, f) {
			r.addFence(f)
			r.clipFences()
		}
	}
}

// damageMoved reacts to a change of the replica's damage or of the ISR: a leader with
// damage steps down when another in-sync replica exists, and otherwise says the damaged
// ranges are lost; a follower tells its leader with its next fetch.
func (r *Replica) damageMoved(now int64) {
	if l := r.lead; l != nil && l.resigning && !r.othersInISR() {
		r.resume(now)
	}
	if l := r.lead; l != nil && !l.resigning {
		if r.mustResign() {
			r.resign(now)
			return
		}
		r.noteLost()
	}
	if r.fol != nil {
		r.pump(now)
	}
}

// noteLost says, once per range, that a leader with no other in-sync replica serves a
// damaged range as lost.
func (r *Replica) noteLost() {
	for _, f := range r.fences {
		if f.Kind != disk.FenceDamaged || slices.Contains(r.lostNoted, f) {
			continue
		}
		r.lostNoted = append(r.lostNoted, f)
		r.note("lost", "offsets [%d, %d) are damaged on this disk and no other in-sync replica holds them: they are lost (reads get CORRUPT_MESSAGE, followers copy the gap)", f.From, f.To)
	}
}

// resign ends this leadership because the log is damaged while another in-sync replica
// may hold the data intact: the replica stops serving at once (like a broker in
// controlled shutdown, before it asks anything), then asks the controller to take it out
// of the ISR, which elects another member.
func (r *Replica) resign(now int64) {
	l := r.lead
	l.resigning = true
	r.endLeadership(CodeNotLeaderOrFollower)
	for _, f := range l.followers {
		f.held = nil
	}
	r.gen++ // work begun as a serving leader is stale
	from, _ := r.localDamage()
	r.note("resign", "epoch %d: the log is damaged from offset %d and the ISR %v has other members: asking to leave it", r.epoch, from, r.st.ISR)
	r.maybeAlterISR(now)
}

// resume takes back a leadership this replica was resigning when its committed ISR no
// longer has another member: an ISR shrink that was in flight when it resigned
// committed, and there is no one left to hand the leadership to. It serves again as the
// only copy, with its damaged ranges lost.
func (r *Replica) resume(now int64) {
	if r.epochs.latest() < r.epoch {
		// It resigned as it was elected, before it started its epoch.
		r.epochs, _, _ = r.epochs.assign(r.epoch, r.leo)
		r.persistEpochs()
	}
	r.lead.resigning = false
	r.note("resume", "epoch %d: no other in-sync replica is left to take the leadership (ISR %v): serving again", r.epoch, r.st.ISR)
	r.isrChanged(now)
	r.maybeAlterISR(now)
}

// repair cuts the log back to the start of its damaged data, once the leader no longer
// counts this replica in the ISR, to fetch the range back. Cutting below the high
// watermark is expected here (the replica is out of the ISR, so nothing counts on it).
func (r *Replica) repair(from int64) {
	r.repairs++
	r.note("repair", "truncating to %d, the start of the damaged data, to fetch it back from leader %d", from, r.fol.leader)
	if from < r.startOffset {
		r.resetLog(from, nil)
		return
	}
	r.truncateLog(from)
}

// gapEpochs returns the epoch cache entries that start in [from, to).
func (r *Replica) gapEpochs(from, to int64) []disk.EpochEntry {
	var out []disk.EpochEntry
	for _, e := range r.epochs {
		if e.StartOffset >= from && e.StartOffset < to {
			out = append(out, e)
		}
	}
	return out
}

// skipGap copies a range the leader declared lost: the log's end moves over it with a
// fence (disk.Skip), and the epochs that started in it are taken from the leader.
func (r *Replica) skipGap(now int64, m *FetchAnswer) {
	f := r.fol
	changed := false
	for _, e := range m.GapEpochs {
		if e.StartOffset < r.leo || e.StartOffset >= m.GapEnd {
			continue
		}
		var c, ok bool
		if r.epochs, c, ok = r.epochs.assign(e.Epoch, e.StartOffset); !ok {
			r.note("fetch-rejected", "gap epoch %d at %d is older than epoch %d", e.Epoch, e.StartOffset, r.epochs.latest())
			f.needQuery = true
			return
		}
		changed = changed || c
	}
	if changed {
		r.persistEpochs()
	}
	r.writeEpochsBeforeMove()
	r.note("gap", "the leader declared [%d, %d) lost: fencing it here too", r.leo, m.GapEnd)
	from := r.leo
	f.waitOp = r.emit(disk.Op{Kind: disk.Skip, Offset: from, MaxOffset: m.GapEnd}, pendingOp{covers: m.GapEnd})
	r.leo = m.GapEnd
	r.syncedCover = max(r.syncedCover, m.GapEnd)
	r.addFence(disk.Fence{From: from, To: m.GapEnd, Kind: disk.FenceLost})
	r.tail.reset()
	r.hw = max(r.hw, min(m.HighWatermark, r.leo))
	if start := min(m.LogStartOffset, r.hw); start > r.startOffset {
		// The next fetch reports the new start once it is durable (a DeleteRecords
		// at the leader waits for it).
		f.waitOp = r.deleteBelow(start)
	}
}
