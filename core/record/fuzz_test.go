package record

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The seed corpora under testdata/fuzz are written by
//
//	go test ./core/record -run TestWriteFuzzCorpus -record.write-corpus
//
// and run by every plain go test. Fuzz with, for example,
//
//	go test ./core/record -run '^$' -fuzz '^FuzzCheck$' -fuzztime 3m -parallel 2
var writeCorpus = flag.Bool("record.write-corpus", false, "rewrite the seed corpora under testdata/fuzz")

const fuzzSizeMax = 1 << 20

// FuzzCheck feeds arbitrary bytes to everything that reads batches. Nothing may panic;
// whatever Check accepts must decode or fail with a sentinel error. Because random bytes
// rarely carry a valid CRC, each input is also tried with its CRC repaired, which lets
// the fuzzer reach the record decoder.
func FuzzCheck(f *testing.F) {
	for _, seed := range checkSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		exerciseBatch(t, b)
		if h, err := ParseHeader(b); err == nil && h.Size() <= len(b) {
			fixed := append([]byte{}, b...)
			SetCRC(fixed)
			exerciseBatch(t, fixed)
		}
	})
}

func exerciseBatch(t *testing.T, b []byte) {
	_, _ = Split(b, func(Header, []byte) error { return nil })
	// Validation streams the records; it must decide as decompressing them all first does.
	hs, errS := ValidateProduce(b, fuzzSizeMax)
	hw, errW := validateWhole(nil, b, fuzzSizeMax, ProduceRules{})
	if err := sameOutcome(hs, errS, hw, errW); err != nil {
		t.Fatal(err)
	}
	h, err := Check(b)
	if err != nil {
		if !isSentinel(err) {
			t.Fatalf("Check: unexpected error %v", err)
		}
		return
	}
	batch := b[:h.Size()]
	recs, err := DecodeRecords(batch, fuzzSizeMax)
	if err != nil {
		if !isSentinel(err) {
			t.Fatalf("DecodeRecords: unexpected error %v", err)
		}
		return
	}
	if len(recs) != int(h.RecordCount) {
		t.Fatalf("%d records decoded for a count of %d", len(recs), h.RecordCount)
	}
	n, err := CountRecords(batch, fuzzSizeMax)
	if err != nil || n != len(recs) {
		t.Fatalf("CountRecords disagrees with DecodeRecords: %d, %v", n, err)
	}
	for i := range recs {
		if recs[i].OffsetDelta > h.LastOffsetDelta || (i > 0 && recs[i].OffsetDelta <= recs[i-1].OffsetDelta) {
			t.Fatalf("record %d: offset delta %d accepted", i, recs[i].OffsetDelta)
		}
	}
	// What decoded must survive a rebuild unchanged.
	if len(recs) > 0 && h.Codec().Known() {
		spec := Spec{FirstTimestamp: 0, Codec: h.Codec()}.NoProducer()
		again, err := Build(spec, recs)
		if err != nil {
			return // e.g. timestamps a real batch could not have
		}
		got, err := DecodeRecords(again, fuzzSizeMax*2)
		if err != nil || len(got) != len(recs) {
			t.Fatalf("rebuilt batch: %d records, %v", len(got), err)
		}
		for i := range recs {
			if err := sameRecord(i, recs[i], got[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrShort, ErrCorrupt, ErrChecksum, ErrMagic, ErrTooLarge, ErrCodec, ErrInvalidRecord} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, CodecGzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, CodecSnappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, CodecLZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, CodecZstd) }

// fuzzDecompress checks that decompressing arbitrary bytes never panics, respects the
// cap, fails only with ErrCorrupt or ErrTooLarge, and that whatever it produces survives
// a round trip. A shared Coder makes the fuzzer exercise reused codec state too.
func fuzzDecompress(f *testing.F, codec Codec) {
	for _, seed := range decompressSeeds(codec) {
		f.Add(seed)
	}
	var c Coder
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := c.Decompress(codec, b, fuzzSizeMax)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(out) > fuzzSizeMax {
			t.Fatalf("%d bytes out under a cap of %d", len(out), fuzzSizeMax)
		}
		z, err := c.Compress(codec, out)
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.Decompress(codec, z, fuzzSizeMax)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(out), len(again), err)
		}
	})
}

// checkSeeds are valid batches of every codec and a few near misses.
func checkSeeds() [][]byte {
	var seeds [][]byte
	small := []kmsg.Record{
		{Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{{Key: "h", Value: nil}}},
		{Key: nil, Value: []byte{}, TimestampDelta64: -2},
	}
	for _, codec := range allCodecs {
		b, _ := Build(Spec{BaseOffset: 3, Codec: codec}.NoProducer(), small)
		seeds = append(seeds, b)
		b, _ = BuildValues(Spec{Codec: codec, ProducerID: 1, BaseSequence: 0}, jsonValues(3, 100, uint64(codec))...)
		seeds = append(seeds, b)
	}
	marker, _ := BuildEndTxn(Spec{ProducerID: 4, BaseSequence: -1}, true, 2)
	seeds = append(seeds, marker)
	compacted := rawBatch(rawHeader{lastOffsetDelta: 5, recordCount: 2, producerID: -1},
		append(rawRecord(1, nil, []byte("a"), nil), rawRecord(4, []byte("b"), nil, nil)...))
	seeds = append(seeds, compacted)
	two := append(append([]byte{}, seeds[0]...), seeds[1]...)
	seeds = append(seeds, two, seeds[0][:40], []byte{})
	return seeds
}

func decompressSeeds(codec Codec) [][]byte {
	inputs := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("seedlog "), 100), bytes.Join(jsonValues(4, 200, 1), nil)}
	var seeds [][]byte
	for _, in := range inputs {
		z, _ := Compress(codec, in)
		seeds = append(seeds, z)
	}
	if codec == CodecSnappy {
		seeds = append(seeds, xerialFrame(seeds[2][:0], seeds[1]), xerialFrame(seeds[3]))
	}
	return append(seeds, []byte("junk"))
}

// TestWriteFuzzCorpus writes the seeds above as corpus files when asked to; otherwise it
// checks that every seed file is there. (Their bytes may differ once a codec library
// changes its output; any valid frame still serves as a seed.)
func TestWriteFuzzCorpus(t *testing.T) {
	sets := map[string][][]byte{"FuzzCheck": checkSeeds()}
	for _, codec := range allCodecs[1:] {
		sets["FuzzDecompress"+map[Codec]string{CodecGzip: "Gzip", CodecSnappy: "Snappy", CodecLZ4: "LZ4", CodecZstd: "Zstd"}[codec]] = decompressSeeds(codec)
	}
	for name, seeds := range sets {
		dir := filepath.Join("testdata", "fuzz", name)
		for i, seed := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			content := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", seed)
			if *writeCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, content, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.HasPrefix(got, []byte("go test fuzz v1\n[]byte(")) {
				t.Errorf("%s is missing or not a corpus file (%v); rewrite with -record.write-corpus", path, err)
			}
		}
	}
}
