//go:build simbugs

package txn

import (
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

func TestPlantsCaught(t *testing.T) {
	for name, scenario := range plantScenarios {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			var err error
			if cfg.Plants, err = plant.Parse(name); err != nil {
				t.Fatal(err)
			}
			v := scenario(t, cfg)
			if v == "" {
				t.Fatalf("plant %s switched on, no violation seen", name)
			}
			t.Logf("caught: %s", v)
		})
	}
}
