package kafka

// ApiVersions, key 18, versions 0-4.
//
// Deviations from Apache Kafka: the v3+ client software name and version are not
// validated (Kafka rejects malformed ones with INVALID_REQUEST); seedlog accepts any. The
// one feature advertised (v3+) is transaction.version, supported 0-2 and finalized at the
// broker's transaction.version setting, when that is 2 (KIP-890 part 2); with 1 no
// feature is advertised, and neither are Produce v12, EndTxn v5 and TxnOffsetCommit v5,
// which only a version-2 client sends. Kafka 4.0 advertises those versions whatever its
// finalized level; clients read the level, not the versions (franz-go does both). The
// finalized features' epoch is a constant 1: the level changes only with a restart.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions answers with every served key and its version range, for a broker whose
// transaction.version is txnVersion.
func ApiVersions(req *kmsg.ApiVersionsRequest, txnVersion int16) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.SetVersion(req.GetVersion())
	resp.ApiKeys = servedKeys()
	if txnVersion >= 2 {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = TxnVersionFeature, 0, 2
		resp.SupportedFeatures = []kmsg.ApiVersionsResponseSupportedFeature{sf}
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = TxnVersionFeature, txnVersion, txnVersion
		resp.FinalizedFeatures = []kmsg.ApiVersionsResponseFinalizedFeature{ff}
		resp.FinalizedFeaturesEpoch = 1
		return resp
	}
	for i, k := range resp.ApiKeys {
		if m, ok := txnV1Max[k.ApiKey]; ok {
			resp.ApiKeys[i].MaxVersion = m
		}
	}
	return resp
}

// TxnVersionFeature is the feature of KIP-890 part 2.
const TxnVersionFeature = "transaction.version"

// txnV2Versions are, by API key, the first versions only a transaction-version-2 client
// sends; a broker at transaction.version 1 does not advertise them.
var txnV2Versions = map[int16]int16{0: 12, 26: 5, 28: 5}

// txnV1Max are the versions a broker at transaction.version 1 advertises of those keys,
// as before version 2 was served (TxnOffsetCommit v4 only says the client takes
// TRANSACTION_ABORTABLE, which no answer of seedlog's carries).
var txnV1Max = map[int16]int16{0: 11, 26: 4, 28: 3}

// TxnV2Request reports whether a request at this key and version is one of a version-2
// client's, on a broker whose transaction.version is txnVersion: only then does it get
// version-2 behaviour (a request at those versions sent to a version-1 broker anyway is
// served as the version below it).
func TxnV2Request(key, version, txnVersion int16) bool {
	m, ok := txnV2Versions[key]
	return ok && txnVersion >= 2 && version >= m
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
