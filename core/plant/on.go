//go:build simbugs

package plant

import "strings"

// Enabled reports whether this binary can switch plants on.
const Enabled = true

// Set is the plants switched on for one run: one bit per Name, in as many words as
// the names need.
type Set struct{ bits [(numNames + 63) / 64]uint64 }

// On reports whether plant n is switched on.
func (s Set) On(n Name) bool { return n < numNames && s.bits[n/64]&(1<<(n%64)) != 0 }

// Parse builds a Set from plant names.
func Parse(names ...string) (Set, error) {
	var s Set
	for _, name := range names {
		n, err := Lookup(name)
		if err != nil {
			return Set{}, err
		}
		s.bits[n/64] |= 1 << (n % 64)
	}
	return s, nil
}

func (s Set) String() string {
	var on []string
	for n := Name(0); n < numNames; n++ {
		if s.On(n) {
			on = append(on, n.String())
		}
	}
	return strings.Join(on, ",")
}
