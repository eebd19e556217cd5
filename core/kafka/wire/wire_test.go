package wire

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// servedAll serves every version kmsg knows, so that the tests reach the body decoders.
type servedAll struct{}

func (servedAll) Range(key int16) (int16, int16, bool) {
	r := kmsg.RequestForKey(key)
	if r == nil {
		return 0, 0, false
	}
	return 0, r.MaxVersion(), true
}

// tagBombs are request frames (without their size prefix) whose tagged-field count
// announces about 2^32 tags in a body of a few bytes. Before kmsg v1.15.1 the decoder
// looped once per announced tag after the bytes ran out: 4 to 60 CPU-seconds each.
var tagBombs = map[string]string{
	// Produce v9 (flexible) with the topic array's element tag count at 0xffffffff.
	"produce v9": "0000 0009 00000029 0004 73655664 00 00 ffff0000 03e8 02 02 74 02 000000ff 02 41 ffffffff 0f 00",
	// The same count in the request header's tag section is refused before the body.
	"produce v9 header tags": "0000 0009 00000001 0000 ffffffff0f",
	// Fetch v12 with the top-level tag count at 0xffffffff.
	"fetch v12": "0001 000c 00000002 0000 00 ffffffff 000001f4 00000001 7fffffff 00 00000000 ffffffff 01 01 01 ffffffff0f",
}

// TestTagBombsFailFast decodes each bomb: it must fail as malformed, and it must finish
// at all. The watchdog is a million times the time a decode takes (microseconds); it
// catches a decoder that loops per announced tag, not a slow machine.
func TestTagBombsFailFast(t *testing.T) {
	for name, h := range tagBombs {
		frame, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := ParseRequest(frame, servedAll{})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: got %v, want a malformed request", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the decoder is still running after 20s", name)
		}
	}
}

// BenchmarkTagBomb measures the CPU one bomb costs the broker's reader.
func BenchmarkTagBomb(b *testing.B) {
	frame, _ := hex.DecodeString(strings.ReplaceAll(tagBombs["produce v9"], " ", ""))
	for b.Loop() {
		if _, _, err := ParseRequest(frame, servedAll{}); err == nil {
			b.Fatal("the bomb decoded")
		}
	}
}
