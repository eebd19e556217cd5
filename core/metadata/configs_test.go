package metadata

import (
	"strings"
	"testing"
)

// A Kafka topic config seedlog refuses says why; none of them is also a config it takes.
func TestRefusedTopicConfigsSayWhy(t *testing.T) {
	for name := range refusedTopicConfigs {
		if _, known := TopicConfigDef(name); known {
			t.Errorf("%s is both refused and known", name)
		}
	}
	if msg := UnknownTopicConfig("file.delete.delay.ms"); !strings.Contains(msg, "not supported") || !strings.Contains(msg, "disk executor") {
		t.Errorf("file.delete.delay.ms refused with %q", msg)
	}
	if msg := UnknownTopicConfig("retention.minutes"); msg != `unknown config "retention.minutes"` {
		t.Errorf("an unknown key refused with %q", msg)
	}
}
