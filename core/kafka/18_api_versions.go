package kafka

// ApiVersions, key 18, versions 0-4.
//
// Deviations from Apache Kafka: none in what is answered. The v3+ client software name and
// version are not validated (Kafka rejects malformed ones with INVALID_REQUEST); seedlog
// accepts any. No features are advertised (v3+ SupportedFeatures stays empty): seedlog has
// no feature flags for clients to negotiate.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions answers with every served key and its version range.
func ApiVersions(req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.SetVersion(req.GetVersion())
	resp.ApiKeys = servedKeys()
	return resp
}

// ApiVersionsUnsupported is the answer to an ApiVersions request at a version seedlog does
// not serve: by KIP-511 it is encoded at version 0, carries UNSUPPORTED_VERSION, and still
// lists the served ranges so the client can retry at a version both sides know.
func ApiVersionsUnsupported() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = servedKeys()
	return resp
}

func servedKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := Served.Keys()
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(keys))
	for _, k := range keys {
		min, max, _ := Served.Range(k)
		out = append(out, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: min, MaxVersion: max})
	}
	return out
}
