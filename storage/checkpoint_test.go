package storage

import (
	"errors"
	"fmt"
	"hash/crc32"
	"path"
	"slices"
	"strings"
	"testing"
)

func TestOffsetsCheckpointRoundTrip(t *testing.T) {
	for _, c := range []offsetsCheckpoint{{0, 0}, {5, 17}, {1 << 40, 1<<40 + 3}} {
		got, err := decodeOffsetsCheckpoint(c.encode())
		if err != nil || got != c {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", c, got, err)
		}
	}
	if got := string(offsetsCheckpoint{12, 40}.encode()); !strings.HasPrefix(got, "seedlog-log-offsets 1\nlog-start-offset 12\nrecovery-point 40\ncrc32c ") {
		t.Fatalf("unexpected layout %q", got)
	}
}

func TestOffsetsCheckpointRejectsGarbage(t *testing.T) {
	good := string(offsetsCheckpoint{12, 40}.encode())
	// reseal gives a body a valid checksum, so that only its contents are wrong.
	reseal := func(body string) string {
		return fmt.Sprintf("%scrc32c %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
	}
	cases := map[string]string{
		"empty":         "",
		"truncated":     good[:len(good)-3],
		"flipped digit": strings.Replace(good, "40", "41", 1),
		"bad crc":       strings.Replace(good, "crc32c ", "crc32c f", 1),
		"wrong magic":   reseal("seedlog-log-offsets 2\nlog-start-offset 12\nrecovery-point 40\n"),
		"negative":      reseal("seedlog-log-offsets 1\nlog-start-offset -1\nrecovery-point 40\n"),
		"leading zero":  reseal("seedlog-log-offsets 1\nlog-start-offset 012\nrecovery-point 40\n"),
		"missing field": reseal("seedlog-log-offsets 1\nlog-start-offset 12\n"),
		"extra field":   reseal("seedlog-log-offsets 1\nlog-start-offset 12\nrecovery-point 40\nx 1\n"),
		"swapped":       reseal("seedlog-log-offsets 1\nrecovery-point 40\nlog-start-offset 12\n"),
	}
	for name, text := range cases {
		if _, err := decodeOffsetsCheckpoint([]byte(text)); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: %v, want ErrBadCheckpoint", name, err)
		}
	}
}

func TestLeaderEpochsRoundTrip(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("p0"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLeaderEpochs(m, "p0")
	if err != nil || len(got) != 0 {
		t.Fatalf("missing checkpoint: %v, %v; want no entries", got, err)
	}
	entries := []EpochEntry{{0, 0}, {3, 150}, {4, 150}, {9, 1000}}
	if err := WriteLeaderEpochs(m, "p0", entries); err != nil {
		t.Fatal(err)
	}
	raw, _ := ReadFile(m, path.Join("p0", LeaderEpochCheckpointName))
	if want := "0\n4\n0 0\n3 150\n4 150\n9 1000\ncrc32c 9db14038\n"; string(raw) != want {
		t.Fatalf("file %q, want %q", raw, want)
	}
	if got, err = ReadLeaderEpochs(m, "p0"); err != nil || !slices.Equal(got, entries) {
		t.Fatalf("read back %v, %v", got, err)
	}
	if err := WriteLeaderEpochs(m, "p0", nil); err != nil {
		t.Fatal(err)
	}
	if got, err = ReadLeaderEpochs(m, "p0"); err != nil || len(got) != 0 {
		t.Fatalf("empty list read back as %v, %v", got, err)
	}
}

func TestLeaderEpochsRejectsGarbage(t *testing.T) {
	cases := map[string]string{
		"empty":              "",
		"no final newline":   "0\n1\n0 0",
		"bad version":        "1\n1\n0 0\n",
		"count too high":     "0\n2\n0 0\n",
		"count too low":      "0\n0\n0 0\n",
		"negative count":     "0\n-1\n",
		"epoch not a number": "0\n1\nx 0\n",
		"negative offset":    "0\n1\n0 -5\n",
		"epoch overflow":     "0\n1\n4294967296 0\n",
		"epochs repeat":      "0\n2\n3 0\n3 10\n",
		"epochs go back":     "0\n2\n4 0\n3 10\n",
		"offsets go back":    "0\n2\n1 10\n2 5\n",
		"extra column":       "0\n1\n1 10 3\n",
		"blank line":         "0\n1\n\n",
		"leading zero":       "0\n1\n01 10\n",
	}
	for name, text := range cases {
		m := newMemFS()
		if err := WriteFileAtomic(m, LeaderEpochCheckpointName, []byte(text)); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadLeaderEpochs(m, "."); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: %v, %v; want ErrBadCheckpoint", name, got, err)
		}
	}
}

func TestWriteLeaderEpochsRejectsInvalidEntries(t *testing.T) {
	m := newMemFS()
	for _, entries := range [][]EpochEntry{
		{{2, 0}, {1, 5}},
		{{1, 10}, {2, 5}},
		{{-1, 0}},
		{{1, -1}},
	} {
		if err := WriteLeaderEpochs(m, ".", entries); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("WriteLeaderEpochs(%v) = %v, want ErrBadCheckpoint", entries, err)
		}
	}
	if names, _ := m.List("."); len(names) != 0 {
		t.Fatalf("rejected writes left files: %v", names)
	}
}

// flipReads is an FS whose first reads of any file come back with one bit flipped, as a
// fault on the read path gives them; the file itself is intact.
type flipReads struct {
	FS
	left int
}

func (f *flipReads) Open(name string) (File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return flipFile{file, f}, nil
}

type flipFile struct {
	File
	fs *flipReads
}

func (f flipFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if f.fs.left > 0 && n > 6 {
		f.fs.left--
		p[6] ^= 1 // the first digit of the first epoch: "21" reads "31"
	}
	return n, err
}

// An epoch read one digit high would keep the replica from leading every epoch up to it:
// the checksum refuses the read, a read fault is outlasted by reading again, damage at
// rest is a bad checkpoint, and a file from before the checksum line still reads.
func TestLeaderEpochsChecksum(t *testing.T) {
	m := newMemFS()
	if err := m.MkdirAll("p"); err != nil {
		t.Fatal(err)
	}
	entries := []EpochEntry{{21, 0}, {24, 10}}
	if err := WriteLeaderEpochs(m, "p", entries); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadLeaderEpochs(&flipReads{FS: m, left: leaderEpochReads - 1}, "p"); err != nil || !slices.Equal(got, entries) {
		t.Fatalf("after %d bad reads: %v, %v", leaderEpochReads-1, got, err)
	}
	if got, err := ReadLeaderEpochs(&flipReads{FS: m, left: leaderEpochReads}, "p"); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("every read bad: %v, %v; want ErrBadCheckpoint", got, err)
	}
	legacy := []byte("0\n2\n21 0\n24 10\n")
	if err := WriteFileAtomic(m, path.Join("p", LeaderEpochCheckpointName), legacy); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadLeaderEpochs(m, "p"); err != nil || !slices.Equal(got, entries) {
		t.Fatalf("a checkpoint without the checksum line: %v, %v", got, err)
	}
}

// FuzzReadLeaderEpochs: a checkpoint read from disk never panics its reader, and what it
// accepts is valid and written back the same way.
func FuzzReadLeaderEpochs(f *testing.F) {
	f.Add([]byte("0\n2\n21 0\n24 10\ncrc32c 00000000\n"))
	f.Add([]byte("0\n2\n21 0\n24 10\n"))
	f.Add([]byte("0\n0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := newMemFS()
		if err := m.MkdirAll("p"); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(m, path.Join("p", LeaderEpochCheckpointName), b); err != nil {
			t.Fatal(err)
		}
		got, err := ReadLeaderEpochs(m, "p")
		if err != nil {
			return
		}
		if err := validateEpochs(got); err != nil {
			t.Fatalf("accepted %q as %v: %v", b, got, err)
		}
		if err := WriteLeaderEpochs(m, "p", got); err != nil {
			t.Fatal(err)
		}
		if again, err := ReadLeaderEpochs(m, "p"); err != nil || !slices.Equal(again, got) {
			t.Fatalf("%v written back reads %v, %v", got, again, err)
		}
	})
}
