package storage

import (
	"errors"
	"fmt"
	"github.com/seedlog/seedlog/core/disk"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// File names of the fenced-ranges record: two copies of the same content, written one
// after the other, so that damage to one loses nothing.
const (
	FencesFileName     = "fenced-ranges"
	FencesCopyFileName = "fenced-ranges.1"
)

// ErrFenced: the offset lies in a fenced range, whose batches the log does not have
// (FencedError says which). Reads of it never succeed.
var ErrFenced = errors.New("storage: offset in a fenced range")

// Fence and FenceKind are the disk vocabulary's (core/disk), so that the log, the disk
// executor and the partition replica share one definition. The log's segments stop at a
// fence's From and the next segment starts at its To; a read of the range fails with a
// FencedError.
type (
	Fence     = disk.Fence
	FenceKind = disk.FenceKind
)

const (
	FenceDamaged = disk.FenceDamaged
	FenceLost    = disk.FenceLost
)

func parseFenceKind(s string) (FenceKind, bool) {
	switch s {
	case "damaged":
		return FenceDamaged, true
	case "lost":
		return FenceLost, true
	}
	return 0, false
}

// FencedError is returned for a read or lookup of an offset inside a fence.
type FencedError struct{ Fence Fence }

func (e *FencedError) Error() string {
	return fmt.Sprintf("%v: %v", ErrFenced, e.Fence)
}

// Unwrap makes errors.Is(err, ErrFenced) hold.
func (e *FencedError) Unwrap() error { return ErrFenced }

const fencesMagic = "seedlog-fenced-ranges 1"

// fencesMax bounds the ranges one record holds (and what a decoder accepts): each costs a
// damaged stretch of disk, and a log with more has a disk to replace.
const fencesMax = 4096

// encodeFences renders the fenced-ranges record (format in doc.go).
func encodeFences(gen uint64, fences []Fence) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\ngeneration %d\n", fencesMagic, gen)
	for _, f := range fences {
		fmt.Fprintf(&b, "%s %d %d\n", f.Kind, f.From, f.To)
	}
	return withCRCLine(b.String())
}

// decodeFences parses a fenced-ranges record. Ranges must be non-empty, sorted and
// disjoint, and there must be at most fencesMax of them.
func decodeFences(data []byte) (gen uint64, fences []Fence, err error) {
	bad := func(format string, args ...any) (uint64, []Fence, error) {
		return 0, nil, fmt.Errorf("%w: %s: %s", ErrBadCheckpoint, FencesFileName, fmt.Sprintf(format, args...))
	}
	body, err := checkCRCLine(data, FencesFileName)
	if err != nil {
		return 0, nil, err
	}
	text := strings.TrimSuffix(body, "\n")
	lines := strings.Split(text, "\n")
	if len(lines) < 2 || lines[0] != fencesMagic {
		return bad("unexpected layout")
	}
	genText, ok := strings.CutPrefix(lines[1], "generation ")
	if !ok {
		return bad("no generation line")
	}
	g, err := strconv.ParseUint(genText, 10, 64)
	if err != nil || strconv.FormatUint(g, 10) != genText {
		return bad("bad generation %q", genText)
	}
	if len(lines)-2 > fencesMax {
		return bad("%d ranges, more than %d", len(lines)-2, fencesMax)
	}
	for _, line := range lines[2:] {
		fields := strings.Split(line, " ")
		if len(fields) != 3 {
			return bad("malformed line %q", line)
		}
		kind, ok := parseFenceKind(fields[0])
		if !ok {
			return bad("unknown kind %q", fields[0])
		}
		from, err1 := parseOffset(fields[1])
		to, err2 := parseOffset(fields[2])
		if err1 != nil || err2 != nil || from >= to {
			return bad("bad range %q", line)
		}
		if n := len(fences); n > 0 && fences[n-1].To > from {
			return bad("range %q overlaps or precedes the one before", line)
		}
		fences = append(fences, Fence{From: from, To: to, Kind: kind})
	}
	return g, fences, nil
}

// fencesBytesMax bounds what is read of a copy of the fenced-ranges record: far more
// than the ranges a disk's damage could fence (a larger copy is garbled).
const fencesBytesMax = 16 << 20

// readFences returns the newer valid copy of the fenced-ranges record: the generation and
// the ranges, or (0, nil) when neither copy exists. It reports whether a copy was missing
// or garbled while the other was read (the next write repairs it).
func readFences(fsys FS, dir string) (gen uint64, fences []Fence, problem string, err error) {
	found := false
	var problems []string
	for _, name := range []string{FencesFileName, FencesCopyFileName} {
		data, err := ReadFileAtMost(fsys, path.Join(dir, name), fencesBytesMax)
		if errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, name+" missing")
			continue
		}
		if errors.Is(err, ErrFileTooLarge) {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if err != nil {
			return 0, nil, "", err
		}
		g, f, err := decodeFences(data)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !found || g > gen {
			gen, fences = g, f
		}
		found = true
	}
	if !found {
		if len(problems) == 2 && strings.HasSuffix(problems[0], "missing") && strings.HasSuffix(problems[1], "missing") {
			return 0, nil, "", nil
		}
		// Both copies exist and neither validates: the ranges are unknown. Recovery then
		// treats every gap between segments as a hole and cuts there.
		return 0, nil, strings.Join(problems, "; "), nil
	}
	if len(problems) > 0 {
		return gen, fences, strings.Join(problems, "; "), nil
	}
	return gen, fences, "", nil
}

// persistFences durably writes the log's fences to both copies, the first one first: a
// crash between the two leaves one copy at each generation, and readFences takes the
// newer.
func (l *Log) persistFences() error {
	l.fencesGen++
	data := encodeFences(l.fencesGen, l.fences)
	for _, name := range []string{FencesFileName, FencesCopyFileName} {
		if err := WriteFileAtomic(l.fsys, path.Join(l.dir, name), data); err != nil {
			return fmt.Errorf("fenced ranges: %w", err)
		}
	}
	l.fencesPersisted = true
	l.dirUnsynced = false
	return nil
}

// saveFences persists the fences if they differ from what the files hold.
func (l *Log) saveFences(before []Fence) error {
	if slices.Equal(before, l.fences) && (l.fencesPersisted || len(l.fences) == 0) {
		return nil
	}
	return l.persistFences()
}

// Fences returns the log's fenced ranges, in offset order.
func (l *Log) Fences() []Fence { return slices.Clone(l.fences) }

// fenceContaining returns the fence holding offset.
func (l *Log) fenceContaining(offset int64) (Fence, bool) {
	i, found := slices.BinarySearchFunc(l.fences, offset, func(f Fence, o int64) int {
		switch {
		case f.To <= o:
			return -1
		case f.From > o:
			return 1
		}
		return 0
	})
	if !found {
		return Fence{}, false
	}
	return l.fences[i], true
}

// fenceEndingAt returns the fence whose To is offset.
func (l *Log) fenceEndingAt(offset int64) (Fence, bool) {
	for _, f := range l.fences {
		if f.To == offset {
			return f, true
		}
	}
	return Fence{}, false
}

// segmentEnd is the offset segment i must end at: the next segment's base, or the start
// of the fence between them.
func (l *Log) segmentEnd(i int) int64 {
	next := l.segments[i+1].base
	if f, ok := l.fenceEndingAt(next); ok && f.From > l.segments[i].base {
		return f.From
	}
	return next
}

// continues reports whether a segment based at base may follow one ending at end: at
// once, across a fence from end to base, or across offsets below the log start (and a
// fence from the start to base).
func (l *Log) continues(end, base int64) bool {
	if end < l.startOffset {
		// Offsets below the log start are gone: a gap there needs no fence (a fencing
		// that began below the start records only its part from the start on).
		end = min(l.startOffset, base)
	}
	if end == base {
		return true
	}
	f, ok := l.fenceContaining(end)
	return ok && f.From == end && f.To == base
}

// firstOffset is the first offset the log covers: its first segment's base, or the
// start of a fence before it.
func (l *Log) firstOffset() int64 {
	base := l.segments[0].base
	if f, ok := l.fenceEndingAt(base); ok {
		return f.From
	}
	return base
}

// SkipTo moves the log end from EndOffset() to offset with no batches in between: the
// range is fenced (a follower copying a range its leader declared lost, kind FenceLost).
// The next append starts at offset. Like TruncateTo it is durable when it returns: the
// fence is recorded first and the new segment created after, so a crash in between
// leaves a fence with no segment after it, which recovery drops (the skip did not
// happen). offset <= EndOffset() is ErrInvalidAppend. An I/O error fails the log.
func (l *Log) SkipTo(offset int64, kind FenceKind) error {
	if err := l.writable(); err != nil {
		return err
	}
	end := l.EndOffset()
	if offset <= end {
		return fmt.Errorf("%w: skip to %d, the log ends at %d", ErrInvalidAppend, offset, end)
	}
	if err := l.skipTo(end, offset, kind); err != nil {
		return l.fail(fmt.Errorf("skip to %d: %w", offset, err))
	}
	return nil
}

func (l *Log) skipTo(end, offset int64, kind FenceKind) error {
	l.fences = disk.AddFence(l.fences, Fence{From: end, To: offset, Kind: kind})
	if err := l.persistFences(); err != nil {
		return err
	}
	old := l.active()
	ns, err := l.createSegment(offset)
	if err != nil {
		return err
	}
	if old.empty() {
		// An empty segment cannot stay in the middle of the log: the new one replaces it,
		// created first so that the log always has a segment.
		l.segments[len(l.segments)-1] = ns
		if err := old.closeFiles(); err != nil {
			return fmt.Errorf("close segment %d: %w", old.base, err)
		}
		if err := removeSegmentFiles(l.fsys, l.dir, old.base); err != nil {
			return err
		}
	} else {
		old.seal()
		if err := l.writeIndexes(old); err != nil {
			return err
		}
		old.unsynced = true
		l.segments = append(l.segments, ns)
	}
	return l.syncAll()
}
