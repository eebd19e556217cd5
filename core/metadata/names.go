package metadata

import (
	"fmt"
	"strings"
)

// TopicNameBytesMax is Kafka's limit on a topic name: a partition directory is named
// "<topic>-<partition>" and must fit in 255 bytes with room for suffixes.
const TopicNameBytesMax = 249

// ValidTopicName applies Kafka's rules: 1 to 249 characters from [a-zA-Z0-9._-], and
// neither "." nor "..", which would name a directory's self or parent.
func ValidTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty topic name")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is reserved", name)
	case len(name) > TopicNameBytesMax:
		return fmt.Errorf("topic name of %d bytes, more than %d", len(name), TopicNameBytesMax)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("topic name %q: illegal character %q at %d", name, c, i)
		}
	}
	return nil
}

// CollisionKey maps a topic name to the key Kafka uses to detect collisions: metric
// names replace '.' with '_', so "a.b" and "a_b" would report under one name.
func CollisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// InternalTopic reports whether the brokers made the topic for themselves: clients may
// read it, but neither delete it nor change its partition count, which would lose or
// move every group's committed offsets or every transaction's state.
func InternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}
