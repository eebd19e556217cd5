package node

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// A peer frame up to peerFrameWholeBytes is read into one buffer of its size; a larger
// one, or a client's, grows as its bytes arrive, so that a size prefix whose bytes do
// not come allocates little.
func TestReadBodySizing(t *testing.T) {
	const size = 1 << 20
	body := bytes.Repeat([]byte{5}, size)
	read := func(whole int) []byte {
		br := bufio.NewReaderSize(bytes.NewReader(body), peerReadBufferBytes)
		b, err := readBody(br, size, whole, nil, nil)
		if err != nil || !bytes.Equal(b, body) {
			t.Fatalf("read %d bytes: %v", len(b), err)
		}
		return b
	}
	if n := testing.AllocsPerRun(10, func() { read(peerFrameWholeBytes) }); n > 3 {
		t.Fatalf("%v allocations for a whole peer frame (a reader and one buffer expected)", n)
	}
	if n := testing.AllocsPerRun(10, func() { read(0) }); n < 5 {
		t.Fatalf("%v allocations for a frame read as it arrives: it no longer grows", n)
	}
	// Ten bytes of a frame announced at 64 MiB: the buffer stays small.
	br := bufio.NewReaderSize(bytes.NewReader(body[:10]), peerReadBufferBytes)
	b, err := readBody(br, 64<<20, peerFrameWholeBytes, nil, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || cap(b) > 64<<10 {
		t.Fatalf("a cut 64 MiB frame: %v, buffer of %d bytes", err, cap(b))
	}
}
