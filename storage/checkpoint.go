package storage

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// File names of the checkpoints kept in each log directory.
const (
	OffsetsCheckpointName     = "log-offsets-checkpoint"
	LeaderEpochCheckpointName = "leader-epoch-checkpoint"
)

// ErrBadCheckpoint reports a checkpoint file whose contents do not parse or do not
// validate.
var ErrBadCheckpoint = errors.New("storage: bad checkpoint")

const offsetsCheckpointMagic = "seedlog-log-offsets 1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// offsetsCheckpoint is the durable copy of a log's start offset and recovery point. Both
// live in one file so that one atomic write updates both and deleting old segments costs a
// single checkpoint write.
type offsetsCheckpoint struct {
	logStartOffset int64
	recoveryPoint  int64
}

// encode renders the checkpoint as text (see doc.go). The CRC line catches corruption at
// rest; a torn write cannot happen because the file is replaced atomically.
func (c offsetsCheckpoint) encode() []byte {
	return withCRCLine(fmt.Sprintf("%s\nlog-start-offset %d\nrecovery-point %d\n",
		offsetsCheckpointMagic, c.logStartOffset, c.recoveryPoint))
}

// withCRCLine ends a text file's body with the line that checks it: "crc32c " and the
// CRC-32C of the body in 8 lowercase hex digits.
func withCRCLine(body string) []byte {
	return fmt.Appendf(nil, "%scrc32c %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
}

// checkCRCLine returns the body of a text file that withCRCLine ended, ending in a
// newline, or an error wrapping ErrBadCheckpoint naming the file.
func checkCRCLine(data []byte, name string) (string, error) {
	crcAt := bytes.LastIndex(data, []byte("crc32c "))
	if crcAt < 0 {
		return "", fmt.Errorf("%w: %s: no crc32c line", ErrBadCheckpoint, name)
	}
	body, crcLine := data[:crcAt], string(data[crcAt:])
	if want := fmt.Sprintf("crc32c %08x\n", crc32.Checksum(body, castagnoli)); crcLine != want {
		return "", fmt.Errorf("%w: %s: checksum line %q, computed %q", ErrBadCheckpoint, name, crcLine, want)
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return "", fmt.Errorf("%w: %s: missing final newline", ErrBadCheckpoint, name)
	}
	return string(body), nil
}

func decodeOffsetsCheckpoint(data []byte) (offsetsCheckpoint, error) {
	bad := func(format string, args ...any) (offsetsCheckpoint, error) {
		return offsetsCheckpoint{}, fmt.Errorf("%w: %s: %s", ErrBadCheckpoint, OffsetsCheckpointName, fmt.Sprintf(format, args...))
	}
	body, err := checkCRCLine(data, OffsetsCheckpointName)
	if err != nil {
		return offsetsCheckpoint{}, err
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != 3 || lines[0] != offsetsCheckpointMagic {
		return bad("unexpected layout")
	}
	start, err := parseNamedOffset(lines[1], "log-start-offset")
	if err != nil {
		return bad("%v", err)
	}
	rp, err := parseNamedOffset(lines[2], "recovery-point")
	if err != nil {
		return bad("%v", err)
	}
	return offsetsCheckpoint{logStartOffset: start, recoveryPoint: rp}, nil
}

func parseNamedOffset(line, name string) (int64, error) {
	value, ok := strings.CutPrefix(line, name+" ")
	if !ok {
		return 0, fmt.Errorf("expected %q, got %q", name, line)
	}
	return parseOffset(value)
}

// parseOffset accepts only canonical non-negative decimals, so that a file differing from
// what encode writes is rejected rather than half-understood.
func parseOffset(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || strconv.FormatInt(v, 10) != s {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	return v, nil
}

func writeOffsetsCheckpoint(fsys FS, dir string, c offsetsCheckpoint) error {
	return WriteFileAtomic(fsys, path.Join(dir, OffsetsCheckpointName), c.encode())
}

// readOffsetsCheckpoint returns the checkpoint, or an error wrapping fs.ErrNotExist when
// there is none, or one wrapping ErrBadCheckpoint when it is garbled.
func readOffsetsCheckpoint(fsys FS, dir string) (offsetsCheckpoint, error) {
	data, err := ReadFileAtMost(fsys, path.Join(dir, OffsetsCheckpointName), smallFileBytesMax)
	if errors.Is(err, ErrFileTooLarge) {
		return offsetsCheckpoint{}, fmt.Errorf("%w: %s: %v", ErrBadCheckpoint, OffsetsCheckpointName, err)
	}
	if err != nil {
		return offsetsCheckpoint{}, err
	}
	return decodeOffsetsCheckpoint(data)
}

// smallFileBytesMax bounds what is read of the files that hold a few numbers (the
// offsets checkpoint, the txnindex-incomplete mark): what is written is far smaller.
const smallFileBytesMax = 4096

// EpochEntry says that leader epoch Epoch wrote the records from StartOffset up to the
// StartOffset of the next entry.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

const leaderEpochCheckpointVersion = 0

// leaderEpochCheckpointBytesMax bounds how much of a leader-epoch checkpoint is read; a
// real one holds a few entries per leader change, far below this.
const leaderEpochCheckpointBytesMax = 16 << 20

// leaderEpochReads is how many times a checkpoint whose checksum fails is read before it
// is taken as garbled: a fault on the read path passes, damage at rest does not.
const leaderEpochReads = 3

// WriteLeaderEpochs durably replaces the leader-epoch checkpoint of the log in dir with
// entries, in Kafka's text format followed by a checksum line: an epoch read one digit
// high would keep the replica from ever leading the epochs below it. It refuses entries
// that ReadLeaderEpochs would reject, so a bad cache fails where it is written rather
// than at the next start-up.
func WriteLeaderEpochs(fsys FS, dir string, entries []EpochEntry) error {
	if err := validateEpochs(entries); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n%d\n", leaderEpochCheckpointVersion, len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return WriteFileAtomic(fsys, path.Join(dir, LeaderEpochCheckpointName), withCRCLine(b.String()))
}

// ReadLeaderEpochs returns the entries of the leader-epoch checkpoint of the log in dir.
// A log that never had one (a new log) yields no entries and no error. A file whose
// checksum fails (read again up to leaderEpochReads times), that does not parse, or
// whose epochs or start offsets go backwards, yields an error wrapping ErrBadCheckpoint.
// A file without the checksum line, as written before it was added, is read as it is.
func ReadLeaderEpochs(fsys FS, dir string) ([]EpochEntry, error) {
	name := path.Join(dir, LeaderEpochCheckpointName)
	var body string
	read := false
	for range leaderEpochReads {
		data, err := ReadFileAtMost(fsys, name, leaderEpochCheckpointBytesMax)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil
		case errors.Is(err, ErrFileTooLarge):
			return nil, fmt.Errorf("%w: %s: %v", ErrBadCheckpoint, name, err)
		case err != nil:
			return nil, err
		}
		if !bytes.Contains(data, []byte("crc32c ")) {
			body, err = string(data), nil
		} else {
			body, err = checkCRCLine(data, name)
		}
		if read = err == nil; read {
			break
		}
		if !errors.Is(err, ErrBadCheckpoint) {
			return nil, err
		}
	}
	if !read {
		return nil, fmt.Errorf("%w: %s: its checksum failed %d reads", ErrBadCheckpoint, name, leaderEpochReads)
	}
	entries, err := decodeLeaderEpochs([]byte(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadCheckpoint, name, err)
	}
	return entries, nil
}

func decodeLeaderEpochs(data []byte) ([]EpochEntry, error) {
	text, ok := strings.CutSuffix(string(data), "\n")
	if !ok {
		return nil, errors.New("missing final newline")
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 2 {
		return nil, errors.New("missing header")
	}
	if lines[0] != strconv.Itoa(leaderEpochCheckpointVersion) {
		return nil, fmt.Errorf("unsupported version %q", lines[0])
	}
	count, err := strconv.Atoi(lines[1])
	if err != nil || count < 0 || strconv.Itoa(count) != lines[1] {
		return nil, fmt.Errorf("bad entry count %q", lines[1])
	}
	if count != len(lines)-2 {
		return nil, fmt.Errorf("entry count %d, found %d lines", count, len(lines)-2)
	}
	entries := make([]EpochEntry, count)
	for i, line := range lines[2:] {
		e, err := parseEpochLine(line)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		entries[i] = e
	}
	if err := validateEpochs(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

func parseEpochLine(line string) (EpochEntry, error) {
	epochText, offsetText, ok := strings.Cut(line, " ")
	if !ok {
		return EpochEntry{}, fmt.Errorf("malformed line %q", line)
	}
	epoch, err := strconv.ParseInt(epochText, 10, 32)
	if err != nil || epoch < 0 || strconv.FormatInt(epoch, 10) != epochText {
		return EpochEntry{}, fmt.Errorf("bad epoch %q", epochText)
	}
	offset, err := parseOffset(offsetText)
	if err != nil {
		return EpochEntry{}, err
	}
	return EpochEntry{Epoch: int32(epoch), StartOffset: offset}, nil
}

// validateEpochs enforces what a leader-epoch cache guarantees: epochs strictly increase
// (each leader change bumps the epoch) and start offsets never go backwards (a later
// epoch starts where or after the earlier one did; equal offsets mean the earlier epoch
// wrote nothing).
func validateEpochs(entries []EpochEntry) error {
	for i, e := range entries {
		if e.Epoch < 0 || e.StartOffset < 0 {
			return fmt.Errorf("%w: leader epoch entry %d is negative: %+v", ErrBadCheckpoint, i, e)
		}
		if i == 0 {
			continue
		}
		prev := entries[i-1]
		if e.Epoch <= prev.Epoch || e.StartOffset < prev.StartOffset {
			return fmt.Errorf("%w: leader epoch entry %d (%+v) does not follow %+v", ErrBadCheckpoint, i, e, prev)
		}
	}
	return nil
}

// ReadOffsetsCheckpoint returns the log start offset and the recovery point checkpointed
// in log directory dir: everything the log's segments hold below that recovery point
// was synced. (The simulator aims its damage to synced data with it.)
func ReadOffsetsCheckpoint(fsys FS, dir string) (start, recoveryPoint int64, err error) {
	c, err := readOffsetsCheckpoint(fsys, dir)
	if err != nil {
		return 0, 0, err
	}
	return c.logStartOffset, c.recoveryPoint, nil
}

// ParseSegmentFileName returns the base offset and suffix of a segment file name
// (LogFileSuffix, IndexFileSuffix or TimeIndexFileSuffix), ok false for any other name.
func ParseSegmentFileName(name string) (base int64, suffix string, ok bool) {
	return parseSegmentFileName(name)
}
