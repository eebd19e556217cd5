package core

import "testing"

// The byte limits take Kafka's defaults when left zero, and the Fetch handler sees the
// broker's fetch.max.bytes.
func TestConfigByteLimitDefaults(t *testing.T) {
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true})
	if err != nil {
		t.Fatal(err)
	}
	c := n.Config()
	if c.MessageBytesMax != 1048588 || c.FetchBytesMax != 57671680 || c.ReplicaFetchResponseBytesMax != 10485760 {
		t.Fatalf("defaults: message %d, fetch %d, replica fetch response %d", c.MessageBytesMax, c.FetchBytesMax, c.ReplicaFetchResponseBytesMax)
	}
	n, err = New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, FetchBytesMax: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.view().FetchBytesMax; got != 4096 {
		t.Fatalf("the view carries fetch.max.bytes %d", got)
	}
}
