package kafka

import (
	"testing"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetadataGivesTheListenerAsked: brokers are described by their listener of the
// name the request came on, and left out when they have none; the inter-broker
// listener a broker registers is never handed to a client that came on another one.
func TestMetadataGivesTheListenerAsked(t *testing.T) {
	var im metadata.Image
	for i, ls := range [][]metadata.Listener{
		{{Name: "INTERNAL", Host: "i1", Port: 1}, {Name: "EXTERNAL", Host: "e1", Port: 2}, {Name: "PEER", Host: "p1", Port: 3}},
		{{Name: "INTERNAL", Host: "i2", Port: 1}, {Name: "PEER", Host: "p2", Port: 3}},
	} {
		var err error
		im, err = im.Apply(int64(2*i), metadata.RegisterBroker{BrokerID: int32(i + 1), Incarnation: [16]byte{byte(i + 1)}, Listeners: ls})
		if err != nil {
			t.Fatal(err)
		}
		if im, err = im.Apply(int64(2*i+1), metadata.UnfenceBroker{BrokerID: int32(i + 1), BrokerEpoch: int64(2 * i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		listener string
		want     []string
	}{
		{"INTERNAL", []string{"i1", "i2"}},
		{"EXTERNAL", []string{"e1"}},
		{"", []string{"i1", "i2"}},
	} {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(12)
		resp := Metadata(View{Image: im, ClusterID: "c", NodeID: 1, Listener: tc.listener}, req)
		var got []string
		for _, b := range resp.Brokers {
			got = append(got, b.Host)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || (len(got) > 1 && got[1] != tc.want[1]) {
			t.Errorf("listener %q: brokers at %v, want %v", tc.listener, got, tc.want)
		}
	}
}
