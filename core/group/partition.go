package group

import "math"

// PartitionFor is the __consumer_offsets partition that stores groupID, by Kafka's rule:
// the Java String.hashCode of the id, made non-negative (MinInt32 maps to 0, as Kafka's
// Utils.abs does), modulo the partition count. Clients find their coordinator through it,
// so it must match Kafka's bit for bit.
func PartitionFor(groupID string, partitions int32) int32 {
	if partitions <= 0 {
		panic("group: PartitionFor needs a positive partition count")
	}
	h := javaHashCode(groupID)
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// javaHashCode is Java's String.hashCode over the UTF-16 code units of s. Bytes that are
// not valid UTF-8 count as U+FFFD, as Java's decoder replaces them.
func javaHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r < 0x10000 {
			h = 31*h + int32(r)
			continue
		}
		// A supplementary character is a surrogate pair in UTF-16.
		r -= 0x10000
		h = 31*h + int32(0xD800+(r>>10))
		h = 31*h + int32(0xDC00+(r&0x3FF))
	}
	return h
}
