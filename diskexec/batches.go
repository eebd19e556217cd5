package diskexec

import (
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/storage"
)

// lastNextOffset returns the offset after the last whole batch in b, or -1 if b holds none.
func lastNextOffset(b []byte) int64 {
	next := int64(-1)
	record.Split(b, func(h record.Header, _ []byte) error {
		next = h.NextOffset()
		return nil
	})
	return next
}

// retentionCutoff is the new log start offset under policy p: the base offset of the first
// segment that retention keeps. Only whole segments below maxOffset (the high watermark)
// go, and the active segment always stays. Segments need not be contiguous: a range
// fenced as damaged or lost may hold no segment, so the next segment's base can lie
// beyond maxOffset; the cut then stops at maxOffset, since a log start above the high
// watermark would carry a leader's high watermark over records its ISR does not hold.
func retentionCutoff(segs []storage.SegmentInfo, start, maxOffset int64, p disk.Retention) int64 {
	var total int64
	for _, s := range segs {
		total += s.SizeBytes
	}
	cut := start
	for i, s := range segs[:max(len(segs)-1, 0)] {
		if s.NextOffset > maxOffset {
			break
		}
		expired := p.Ms >= 0 && s.MaxTimestamp >= 0 && s.MaxTimestamp < p.NowMs-p.Ms
		oversize := p.Bytes >= 0 && total > p.Bytes
		if !expired && !oversize {
			break
		}
		total -= s.SizeBytes
		cut = max(cut, min(segs[i+1].BaseOffset, maxOffset))
	}
	return cut
}
