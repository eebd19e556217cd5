// Package wire frames Kafka requests and responses and parses request headers. The real
// node and the simulator both use it, so simulated clients exercise the same decoding
// real clients do.
//
// A frame is a big-endian int32 size followed by that many bytes. A request frame holds:
//
//	api key        int16
//	api version    int16
//	correlation id int32
//	client id      nullable string (int16 length, -1 for null); absent for
//	               ControlledShutdown v0
//	tagged fields  (request header v2, only when the request version is flexible)
//	body           the request at that version
//
// A response frame holds the correlation id, tagged fields when the response version is
// flexible (response header v1; ApiVersions always uses header v0 so that a client that
// guessed a too-new version can still read the answer), then the body.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors a request frame can fail with. ErrUnsupported carries a valid header: the broker
// can still answer it (with UNSUPPORTED_VERSION); every other error means the connection
// must be closed.
var (
	ErrMalformed   = errors.New("wire: malformed request")
	ErrUnsupported = errors.New("wire: unsupported api key or version")
	ErrTooLarge    = errors.New("wire: frame too large")
)

// FrameSizeDefaultMax is the default cap on a request frame (Kafka's
// socket.request.max.bytes).
const FrameSizeDefaultMax = 100 << 20

// Header is a parsed request header.
type Header struct {
	Key      int16
	Version  int16
	Corr     int32
	ClientID string
}

// Versions says which versions of each API key a broker serves.
type Versions interface {
	// Range returns the versions served for key; ok is false for an unknown key.
	Range(key int16) (min, max int16, ok bool)
}

// FrameSize reads the size prefix at the start of b: ok is false when fewer than four
// bytes are present. A negative size or one above sizeMax is an error.
func FrameSize(b []byte, sizeMax int) (size int, ok bool, err error) {
	if len(b) < 4 {
		return 0, false, nil
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 || int(n) > sizeMax {
		return 0, true, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, n, sizeMax)
	}
	return int(n), true, nil
}

// ParseRequest decodes one request frame body (without its size prefix). The version is
// checked against served before the body is decoded, so an unsupported version never
// reaches a decoder. On ErrUnsupported the returned Header is valid.
func ParseRequest(frame []byte, served Versions) (Header, kmsg.Request, error) {
	var h Header
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("%w: %d-byte header", ErrMalformed, len(frame))
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.Corr = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	min, max, known := served.Range(h.Key)
	req := kmsg.RequestForKey(h.Key)
	if !known || req == nil {
		return h, nil, fmt.Errorf("%w: key %d", ErrUnsupported, h.Key)
	}
	if !(h.Key == 7 && h.Version == 0) {
		id, n, err := readNullableString(rest)
		if err != nil {
			return h, nil, err
		}
		h.ClientID, rest = id, rest[n:]
	}
	if h.Version < min || h.Version > max {
		return h, nil, fmt.Errorf("%w: %s v%d (served v%d-v%d)", ErrUnsupported, kmsg.NameForKey(h.Key), h.Version, min, max)
	}
	req.SetVersion(h.Version)
	if req.IsFlexible() {
		n, err := skipTags(rest)
		if err != nil {
			return h, nil, err
		}
		rest = rest[n:]
	}
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, fmt.Errorf("%w: %s v%d body: %v", ErrMalformed, kmsg.NameForKey(h.Key), h.Version, err)
	}
	return h, req, nil
}

// AppendResponse appends a framed response to dst. resp's version must be set.
func AppendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0) // no tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ParseResponse decodes a response frame body (without its size prefix) into resp, whose
// version must be set to the request's. It returns the correlation id. Clients use it.
func ParseResponse(frame []byte, resp kmsg.Response) (int32, error) {
	if len(frame) < 4 {
		return 0, fmt.Errorf("%w: short response", ErrMalformed)
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	rest := frame[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		n, err := skipTags(rest)
		if err != nil {
			return corr, err
		}
		rest = rest[n:]
	}
	if err := resp.ReadFrom(rest); err != nil {
		return corr, fmt.Errorf("%w: %s v%d response: %v", ErrMalformed, kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return corr, nil
}

func readNullableString(b []byte) (string, int, error) {
	if len(b) < 2 {
		return "", 0, fmt.Errorf("%w: client id", ErrMalformed)
	}
	n := int16(binary.BigEndian.Uint16(b))
	if n < 0 {
		return "", 2, nil
	}
	if len(b) < 2+int(n) {
		return "", 0, fmt.Errorf("%w: client id of %d bytes", ErrMalformed, n)
	}
	return string(b[2 : 2+int(n)]), 2 + int(n), nil
}

// skipTags skips a tagged-field section and returns its length.
func skipTags(b []byte) (int, error) {
	count, pos := binary.Uvarint(b)
	if pos <= 0 || count > uint64(len(b)) {
		return 0, fmt.Errorf("%w: tagged fields", ErrMalformed)
	}
	for i := uint64(0); i < count; i++ {
		_, n := binary.Uvarint(b[pos:])
		if n <= 0 {
			return 0, fmt.Errorf("%w: tag", ErrMalformed)
		}
		pos += n
		size, n := binary.Uvarint(b[pos:])
		if n <= 0 || size > uint64(len(b)-pos-n) {
			return 0, fmt.Errorf("%w: tag size", ErrMalformed)
		}
		pos += n + int(size)
	}
	return pos, nil
}
