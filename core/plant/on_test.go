//go:build simbugs

package plant

import "testing"

// Every name switches on its own plant and no other, however many names there are.
func TestPlantSetHoldsEveryName(t *testing.T) {
	for n := Name(0); n < numNames; n++ {
		s, err := Parse(n.String())
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		for m := Name(0); m < numNames; m++ {
			if s.On(m) != (m == n) {
				t.Fatalf("with %s on, %s reports %v", n, m, s.On(m))
			}
		}
	}
}
