package controller

// Kafka error codes the controller answers with. core may not import franz-go's kerr, so
// the numbers are spelled out here (they are fixed by the protocol).
const (
	errNone                        int16 = 0
	errUnknownServerError          int16 = -1
	errUnknownTopicOrPartition     int16 = 3
	errRequestTimedOut             int16 = 7
	errInvalidTopicException       int16 = 17
	errClusterAuthorizationFailed  int16 = 31
	errSecurityDisabled            int16 = 54
	errUnsupportedSaslMechanism    int16 = 33
	errTopicAlreadyExists          int16 = 36
	errInvalidPartitions           int16 = 37
	errInvalidReplicationFactor    int16 = 38
	errInvalidReplicaAssignment    int16 = 39
	errInvalidConfig               int16 = 40
	errNotController               int16 = 41
	errInvalidRequest              int16 = 42
	errPolicyViolation             int16 = 44
	errFencedLeaderEpoch           int16 = 74
	errStaleBrokerEpoch            int16 = 77
	errOffsetNotAvailable          int16 = 78
	errThrottlingQuotaExceeded     int16 = 89
	errResourceNotFound            int16 = 91
	errDuplicateResource           int16 = 92
	errUnacceptableCredential      int16 = 93
	errInvalidUpdateVersion        int16 = 95
	errUnknownTopicID              int16 = 100
	errDuplicateBrokerRegistration int16 = 101
	errBrokerIDNotRegistered       int16 = 102
	errIneligibleReplica           int16 = 107
	errInvalidRegistration         int16 = 119
)

// outcome is a Kafka error code with a message for the fields that carry one.
type outcome struct {
	code int16
	msg  string
}

func ok() outcome { return outcome{} }

func fail(code int16, msg string) outcome { return outcome{code: code, msg: msg} }

func (o outcome) failed() bool { return o.code != errNone }

// message returns the message for an ErrorMessage field: nil on success.
func (o outcome) message() *string {
	if o.code == errNone || o.msg == "" {
		return nil
	}
	m := o.msg
	return &m
}
