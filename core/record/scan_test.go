package record

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// validateWhole is producer-batch validation done the simple way, the reference the
// streaming validation must agree with: decompress all the records, then iterate them.
func validateWhole(c *Coder, b []byte, sizeMax int, rules ProduceRules) (Header, error) {
	h, err := checkProduceBatch(b, sizeMax)
	if err != nil {
		return Header{}, err
	}
	if err := checkProduceHeader(h); err != nil {
		return Header{}, err
	}
	it, err := newIter(c, b, sizeMax)
	if err != nil {
		return Header{}, err
	}
	n := 0
	for it.Next() {
		if rules.Keys && it.Record().Key == nil {
			return Header{}, fmt.Errorf("%w: record %d has no key", ErrInvalidRecord, n)
		}
		if ts := it.Timestamp(); rules.Timestamps && (ts < rules.TimestampMin || ts > rules.TimestampMax) {
			return Header{}, fmt.Errorf("%w: record %d has timestamp %d", ErrInvalidTimestamp, n, ts)
		}
		n++
	}
	if err := it.Err(); err != nil {
		return Header{}, err
	}
	return h, nil
}

var allSentinels = []error{ErrTooLarge, ErrCodec, ErrInvalidRecord, ErrInvalidTimestamp, ErrCorrupt, ErrChecksum, ErrShort, ErrMagic}

// sameOutcome reports how two validations of the same input differ: in the header, in
// the Kafka code, or in any sentinel the errors wrap.
func sameOutcome(h1 Header, err1 error, h2 Header, err2 error) error {
	if h1 != h2 || ProduceErrorCode(err1) != ProduceErrorCode(err2) {
		return fmt.Errorf("streaming: %v (count %d); whole: %v (count %d)", err1, h1.RecordCount, err2, h2.RecordCount)
	}
	for _, s := range allSentinels {
		if errors.Is(err1, s) != errors.Is(err2, s) {
			return fmt.Errorf("streaming: %v; whole: %v; disagree on %v", err1, err2, s)
		}
	}
	return nil
}

// checkStreamingAgrees validates b both ways, with shared and with fresh codec state.
func checkStreamingAgrees(t *testing.T, stream, whole *Coder, b []byte, sizeMax int, rules ProduceRules) error {
	t.Helper()
	hw, errW := validateWhole(whole, b, sizeMax, rules)
	hs, errS := stream.ValidateProduceWith(b, sizeMax, rules)
	if err := sameOutcome(hs, errS, hw, errW); err != nil {
		t.Fatal(err)
	}
	if rules == (ProduceRules{}) {
		hs, errS = ValidateProduce(b, sizeMax)
		if err := sameOutcome(hs, errS, hw, errW); err != nil {
			t.Fatalf("fresh coder: %v", err)
		}
	}
	return errW
}

// streamBatch frames body as the records of a producer batch of count records under
// codec, compressing body first unless raw.
func streamBatch(body []byte, codec Codec, raw bool, count int32, appendTime bool) []byte {
	payload := body
	if !raw && codec != CodecNone {
		payload, _ = Compress(codec, body)
	}
	h := plainHeader(count)
	h.attributes = int16(codec)
	if appendTime {
		h.attributes |= AttrLogAppendTime
	}
	h.firstTimestamp, h.maxTimestamp = 1000, 2000
	return rawBatch(h, payload)
}

// FuzzValidateStreaming checks that streaming validation agrees with decompressing
// everything first, on records and compressed payloads the fuzzer shapes, under caps
// that the decompressed records may exceed and with the topic rules on or off.
func FuzzValidateStreaming(f *testing.F) {
	for _, seed := range streamSeeds() {
		f.Add(seed.body, uint8(seed.codec), seed.raw, uint8(seed.count), uint16(0), seed.keys, int64(0), int64(1<<40), false)
	}
	var stream, whole Coder
	f.Fuzz(func(t *testing.T, body []byte, codecByte uint8, raw bool, count uint8, capExtra uint16, keys bool, tsMin, tsMax int64, appendTime bool) {
		codec := Codec(codecByte % 5)
		b := streamBatch(body, codec, raw, int32(count), appendTime)
		rules := ProduceRules{Keys: keys, Timestamps: tsMin <= tsMax, TimestampMin: tsMin, TimestampMax: tsMax}
		// The cap starts at the batch's size, so decompressed records may pass it.
		checkStreamingAgrees(t, &stream, &whole, b, len(b)+int(capExtra), rules)
	})
}

type streamSeed struct {
	body  []byte
	codec Codec
	raw   bool
	count int
	keys  bool
}

// streamSeeds are valid records under every codec (one record larger than the window
// among them), the same with a keyless record, with a byte too many or too few, and
// xerial-framed snappy.
func streamSeeds() []streamSeed {
	recs := []kmsg.Record{
		{Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}},
		{Key: []byte("big"), Value: bytes.Repeat([]byte("seedlog "), scanWindowBytes/4)},
		{Key: nil, Value: nil, TimestampDelta64: 7},
	}
	batch, _ := Build(Spec{}.NoProducer(), recs)
	body := batch[HeaderSize:]
	var seeds []streamSeed
	for _, codec := range allCodecs {
		seeds = append(seeds,
			streamSeed{body: body, codec: codec, count: len(recs)},
			streamSeed{body: body, codec: codec, count: len(recs), keys: true},
			streamSeed{body: append(append([]byte{}, body...), 0), codec: codec, count: len(recs)},
			streamSeed{body: body[:len(body)-1], codec: codec, count: len(recs)},
		)
	}
	half := len(body) / 2
	xerial := xerialFrame(snappy.Encode(nil, body[:half]), snappy.Encode(nil, body[half:]))
	seeds = append(seeds, streamSeed{body: xerial, codec: CodecSnappy, raw: true, count: len(recs)})
	return seeds
}

func TestStreamingAgreesOnSeeds(t *testing.T) {
	var stream, whole Coder
	valid := 0
	for _, seed := range streamSeeds() {
		for _, capExtra := range []int{0, 100, 1 << 20} {
			b := streamBatch(seed.body, seed.codec, seed.raw, int32(seed.count), false)
			if checkStreamingAgrees(t, &stream, &whole, b, len(b)+capExtra, ProduceRules{Keys: seed.keys}) == nil {
				valid++
			}
		}
	}
	if valid == 0 {
		t.Fatal("no seed validated: the comparison only saw failures")
	}
}

// TestStreamingErrorPrecedence: a bad record early in the stream loses to codec damage
// or the cap later in it, as when everything is decompressed first.
func TestStreamingErrorPrecedence(t *testing.T) {
	recs := []kmsg.Record{{Value: []byte("keyless")}, {Key: []byte("k"), Value: bytes.Repeat([]byte{'z'}, 64<<10)}}
	batch := mustBuild(t, Spec{}.NoProducer(), recs)
	body := batch[HeaderSize:]
	keys := ProduceRules{Keys: true}
	var c Coder
	for _, codec := range allCodecs[1:] {
		z, err := Compress(codec, body)
		if err != nil {
			t.Fatal(err)
		}
		h := plainHeader(2)
		h.attributes = int16(codec)
		damaged := rawBatch(h, append(append([]byte{}, z...), "junk"...))
		_, err = c.ValidateProduceWith(damaged, 1<<20, keys)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: keyless record then damage: %v, want the damage (CORRUPT_MESSAGE)", codec, err)
		}
		whole := rawBatch(h, z)
		_, err = c.ValidateProduceWith(whole, 32<<10, keys)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: keyless record then the cap: %v, want MESSAGE_TOO_LARGE", codec, err)
		}
		_, err = c.ValidateProduceWith(whole, 1<<20, keys)
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: keyless record alone: %v, want INVALID_RECORD", codec, err)
		}
	}
}

// TestStreamingHoldsAWindow: validating a compressed batch of 4 MiB of records with a
// reused Coder allocates a small fraction of that (next to nothing), where decompressing
// first allocates it all.
func TestStreamingHoldsAWindow(t *testing.T) {
	values := make([][]byte, 64)
	for i := range values {
		values[i] = bytes.Repeat(fmt.Appendf(nil, "value %d of sixty-four; ", i), (64<<10)/24)
	}
	plain, err := BuildValues(Spec{}.NoProducer(), values...)
	if err != nil {
		t.Fatal(err)
	}
	body := plain[HeaderSize:]
	const sizeMax = 8 << 20
	chunk := 32 << 10
	var blocks [][]byte
	for rest := body; len(rest) > 0; rest = rest[min(chunk, len(rest)):] {
		blocks = append(blocks, snappy.Encode(nil, rest[:min(chunk, len(rest))]))
	}
	batches := map[string][]byte{"xerial snappy": streamBatch(xerialFrame(blocks...), CodecSnappy, true, int32(len(values)), false)}
	for _, codec := range []Codec{CodecGzip, CodecLZ4, CodecZstd} {
		batches[codec.String()] = streamBatch(body, codec, false, int32(len(values)), false)
	}
	for _, name := range []string{"gzip", "lz4", "zstd", "xerial snappy"} {
		b := batches[name]
		var c Coder
		if _, err := c.ValidateProduce(b, sizeMax); err != nil { // warms the codec state
			t.Fatalf("%s: %v", name, err)
		}
		const runs = 5
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			if _, err := c.ValidateProduce(b, sizeMax); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		// Next to nothing in a plain build; under -race the codecs' sync.Pools drop
		// buffers at random, which costs up to about 80 KiB.
		if perRun > uint64(len(body))/32 {
			t.Errorf("%s: %d bytes allocated per validation of %d bytes of records", name, perRun, len(body))
		}
		t.Logf("%s: %d bytes allocated per validation of %d bytes of records", name, perRun, len(body))
	}
}
