package group

import (
	"math"
	"testing"
)

// The expected values were printed by Java (String.hashCode, then Kafka's Utils.abs and
// the modulo), not computed by the code under test.
func TestPartitionForJavaValues(t *testing.T) {
	cases := []struct {
		id          string
		hash        int32
		mod50, mod3 int32
	}{
		{"", 0, 0, 0},
		{"a", 97, 47, 1},
		{"abc", 96354, 4, 0},
		{"hello", 99162322, 22, 1},
		{"Aa", 2112, 12, 0},
		{"BB", 2112, 12, 0},
		{"polygenelubricants", math.MinInt32, 0, 0},
		{"my-group", -1906497762, 12, 0},
		{"consumer-group-1", 147483020, 20, 2},
		{"seedlog-consumers", -1640944349, 49, 2},
		{"été", 227742, 42, 0},
		{"😀grp", 1276929186, 36, 0},
		{"orders-processor", 633927594, 44, 0},
	}
	for _, tc := range cases {
		if got := javaHashCode(tc.id); got != tc.hash {
			t.Errorf("javaHashCode(%q) = %d, Java says %d", tc.id, got, tc.hash)
		}
		if got := PartitionFor(tc.id, 50); got != tc.mod50 {
			t.Errorf("PartitionFor(%q, 50) = %d, Kafka says %d", tc.id, got, tc.mod50)
		}
		if got := PartitionFor(tc.id, 3); got != tc.mod3 {
			t.Errorf("PartitionFor(%q, 3) = %d, Kafka says %d", tc.id, got, tc.mod3)
		}
	}
}

func TestPartitionForRange(t *testing.T) {
	for _, id := range []string{"x", "polygenelubricants", "my-group", "\xff\xfe"} {
		for _, n := range []int32{1, 7, 50, math.MaxInt32} {
			if p := PartitionFor(id, n); p < 0 || p >= n {
				t.Errorf("PartitionFor(%q, %d) = %d, out of range", id, n, p)
			}
		}
	}
}
