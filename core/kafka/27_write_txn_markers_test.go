package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A client's WriteTxnMarkers is refused on every partition of every marker, whatever
// it names.
func TestWriteTxnMarkersRefusesClients(t *testing.T) {
	for _, v := range versions(t, 27) {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		req.SetVersion(v)
		for pid := range int64(2) {
			mk := kmsg.NewWriteTxnMarkersRequestMarker()
			mk.ProducerID, mk.ProducerEpoch, mk.Committed = pid, 3, true
			mk.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{{Topic: "a", Partitions: []int32{0, 1}}, {Topic: "b", Partitions: []int32{4}}}
			req.Markers = append(req.Markers, mk)
		}
		resp := WriteTxnMarkers(viaWire(t, req)).(*kmsg.WriteTxnMarkersResponse)
		n := 0
		for i, m := range resp.Markers {
			if m.ProducerID != int64(i) {
				t.Fatalf("v%d: marker %d answers producer %d", v, i, m.ProducerID)
			}
			for _, tp := range m.Topics {
				for _, p := range tp.Partitions {
					n++
					if p.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
						t.Fatalf("v%d: %s/%d answered %d", v, tp.Topic, p.Partition, p.ErrorCode)
					}
				}
			}
		}
		if n != 6 {
			t.Fatalf("v%d: %d partitions answered, want 6", v, n)
		}
	}
}
