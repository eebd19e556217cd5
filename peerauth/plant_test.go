//go:build simbugs

package peerauth

import (
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

// With peer-auth-skipped, Open hands on a frame whatever its tag: the planted bug the
// simulator's attacker must turn into a caught failure.
func TestPlantPeerAuthSkipped(t *testing.T) {
	s := secret(t, 7)
	dk, ak, err := handshake(t, s, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	frame := NewSealer(dk).Seal(nil, []byte("fetch"))
	frame[0] ^= 1
	if _, err := NewOpener(ak, plant.Set{}).Open(frame); err == nil {
		t.Fatal("a flipped frame opened without the plant")
	}
	plants, err := plant.Parse("peer-auth-skipped")
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewOpener(ak, plants).Open(frame)
	if err != nil || string(got) != "getch" {
		t.Fatalf("with the plant: %q, %v", got, err)
	}
}
