package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

func codecInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"empty":      {},
		"one byte":   {42},
		"random 1M":  random,
		"zeros 1M":   make([]byte, 1<<20),
		"json 200K":  bytes.Join(jsonValues(200, 1024, 5), []byte("\n")),
		"text 100K":  bytes.Repeat([]byte("seedlog keeps every acknowledged write. "), 2500),
		"block edge": bytes.Repeat([]byte{1, 2, 3}, (64<<10)/3+1),
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, codec := range allCodecs {
		for name, in := range codecInputs() {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				z, err := Compress(codec, in)
				if err != nil {
					t.Fatalf("Compress: %v", err)
				}
				out, err := Decompress(codec, z, len(in))
				if err != nil {
					t.Fatalf("Decompress with an exact cap: %v", err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip changed %d bytes into %d bytes", len(in), len(out))
				}
				if len(in) == 0 {
					return
				}
				if _, err := Decompress(codec, z, len(in)-1); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Decompress with a cap one byte short: %v, want ErrTooLarge", err)
				}
			})
		}
	}
}

func TestCompressedIsSmaller(t *testing.T) {
	in := bytes.Join(jsonValues(16, 1024, 9), nil)
	for _, codec := range allCodecs[1:] {
		z, err := Compress(codec, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(z) >= len(in)/2 {
			t.Errorf("%s: %d bytes of JSON compressed to %d", codec, len(in), len(z))
		}
	}
}

func TestUnknownCodec(t *testing.T) {
	for _, codec := range []Codec{5, 6, 7, -1} {
		if codec.Known() {
			t.Errorf("%s is known", codec)
		}
		if _, err := Compress(codec, []byte("x")); !errors.Is(err, ErrCodec) {
			t.Errorf("Compress(%s): %v, want ErrCodec", codec, err)
		}
		if _, err := Decompress(codec, []byte("x"), 10); !errors.Is(err, ErrCodec) {
			t.Errorf("Decompress(%s): %v, want ErrCodec", codec, err)
		}
	}
	for _, codec := range allCodecs {
		if !codec.Known() {
			t.Errorf("%s is not known", codec)
		}
	}
}

func TestDecompressGarbage(t *testing.T) {
	garbage := [][]byte{
		{}, {1}, []byte("definitely not compressed"),
		{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3},  // gzip header, junk deflate
		{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 1, 2},  // lz4 frame magic, junk
		{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x01, 0x02},  // zstd magic, junk
		append(append([]byte{}, xerialMagic[:]...), 0, 0), // xerial magic, cut header
	}
	for _, codec := range allCodecs[1:] {
		for _, in := range garbage {
			_, err := Decompress(codec, in, 1<<20)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s of %x: %v, want ErrCorrupt", codec, in, err)
			}
		}
	}
}

// xerialFrame frames blocks the way snappy-java's stream does.
func xerialFrame(blocks ...[]byte) []byte {
	out := append([]byte{}, xerialMagic[:]...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for _, b := range blocks {
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

func TestSnappyXerial(t *testing.T) {
	in := bytes.Join(jsonValues(100, 1024, 6), nil)
	const chunk = 32 << 10 // snappy-java's default
	var blocks [][]byte
	for rest := in; len(rest) > 0; rest = rest[min(chunk, len(rest)):] {
		blocks = append(blocks, snappy.Encode(nil, rest[:min(chunk, len(rest))]))
	}
	framed := xerialFrame(blocks...)

	out, err := Decompress(CodecSnappy, framed, len(in))
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("xerial with %d chunks: %d bytes, %v; want %d bytes", len(blocks), len(out), err, len(in))
	}
	if _, err := Decompress(CodecSnappy, framed, len(in)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("xerial over the cap in its last chunk: %v, want ErrTooLarge", err)
	}
	if out, err := Decompress(CodecSnappy, xerialFrame(), 10); err != nil || len(out) != 0 {
		t.Errorf("xerial header alone: %q, %v; want nothing", out, err)
	}

	bad := map[string][]byte{
		"cut chunk":           framed[:len(framed)-1],
		"cut chunk length":    append(xerialFrame(blocks[0]), 0, 0),
		"negative length":     append(xerialFrame(), 0xff, 0xff, 0xff, 0xfe, 1, 2),
		"empty chunk":         xerialFrame([]byte{}),
		"chunk not snappy":    xerialFrame([]byte{0x05, 0xff, 0xff}),
		"header cut":          framed[:12],
		"chunk length lies":   append(binary.BigEndian.AppendUint32(xerialFrame()[:16], 1000), blocks[0][:10]...),
		"chunk decodes short": xerialFrame(append(binary.AppendUvarint(nil, 100), snappy.Encode(nil, []byte("abc"))[1:]...)),
	}
	for name, in := range bad {
		if _, err := Decompress(CodecSnappy, in, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestSnappyRawRefusesLengthBeforeAllocating(t *testing.T) {
	// A raw block claiming 4 GiB: only the length header is needed to refuse it.
	claim := binary.AppendUvarint(nil, 1<<32-1)
	allocated := allocatedBy(func() {
		if _, err := Decompress(CodecSnappy, append(claim, 0, 1, 2), 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Errorf("raw snappy claiming 4 GiB: %v, want ErrTooLarge", err)
		}
	})
	if allocated > 1<<20 {
		t.Errorf("refusing a 4 GiB claim allocated %d bytes", allocated)
	}
	// xerial: many chunks each claiming 64 KiB.
	chunk := append(binary.AppendUvarint(nil, 64<<10), 0)
	var blocks [][]byte
	for range 1 << 12 {
		blocks = append(blocks, chunk)
	}
	allocated = allocatedBy(func() {
		if _, err := Decompress(CodecSnappy, xerialFrame(blocks...), 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Errorf("xerial claiming 256 MiB: %v, want ErrTooLarge", err)
		}
	})
	if allocated > 4<<20 {
		t.Errorf("refusing xerial chunks claiming 256 MiB allocated %d bytes", allocated)
	}
}

// TestLZ4Frames decodes frames in the shapes clients produce: block checksums on or off,
// content size present or absent, content checksum on or off, any block size.
func TestLZ4Frames(t *testing.T) {
	in := bytes.Join(jsonValues(300, 1024, 7), nil)
	for _, blockChecksum := range []bool{false, true} {
		for _, contentSize := range []bool{false, true} {
			for _, contentChecksum := range []bool{false, true} {
				for _, blockSize := range []lz4.BlockSize{lz4.Block64Kb, lz4.Block256Kb, lz4.Block4Mb} {
					opts := []lz4.Option{
						lz4.BlockChecksumOption(blockChecksum),
						lz4.ChecksumOption(contentChecksum),
						lz4.BlockSizeOption(blockSize),
					}
					if contentSize {
						opts = append(opts, lz4.SizeOption(uint64(len(in))))
					}
					frame := lz4Frame(t, in, opts...)
					out, err := Decompress(CodecLZ4, frame, len(in))
					if err != nil || !bytes.Equal(out, in) {
						t.Errorf("block checksum %v, content size %v, content checksum %v, block %v: %d bytes, %v",
							blockChecksum, contentSize, contentChecksum, blockSize, len(out), err)
					}
				}
			}
		}
	}
}

func lz4Frame(t testing.TB, in []byte, opts ...lz4.Option) []byte {
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(append([]lz4.Option{lz4.ConcurrencyOption(1)}, opts...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLZ4Corruption(t *testing.T) {
	in := bytes.Join(jsonValues(20, 1024, 8), nil)
	frame := lz4Frame(t, in, lz4.BlockChecksumOption(true), lz4.ChecksumOption(true))
	for name, pos := range map[string]int{
		"header checksum": 6, // the byte after FLG and BD
		"block checksum":  len(frame) - 9,
		"block data":      len(frame) / 2,
		"content sum":     len(frame) - 1,
	} {
		bad := append([]byte{}, frame...)
		bad[pos] ^= 0x10
		if _, err := Decompress(CodecLZ4, bad, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s flipped: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := Decompress(CodecLZ4, frame[:len(frame)-3], 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("cut frame: %v, want ErrCorrupt", err)
	}
}

// TestOurLZ4FrameShape pins what Compress writes for Kafka: the frame magic, version 01,
// independent blocks, a content checksum, 64 KiB blocks, and a header checksum that
// matches (the second byte of xxh32 over the descriptor).
func TestOurLZ4FrameShape(t *testing.T) {
	z, err := Compress(CodecLZ4, []byte("hello, hello, hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(z); got != 0x184d2204 {
		t.Fatalf("magic %08x", got)
	}
	flg, bd := z[4], z[5]
	if flg>>6 != 1 || flg&0x20 == 0 || flg&0x04 == 0 || flg&0x08 != 0 {
		t.Errorf("FLG %08b: want version 01, independent blocks, content checksum, no content size", flg)
	}
	if bd != 4<<4 {
		t.Errorf("BD %08b: want 64 KiB blocks", bd)
	}
	if ok, err := lz4.ValidFrameHeader(z); !ok || err != nil {
		t.Errorf("frame header not valid: %v", err)
	}
}

func TestGzipConcatenatedMembers(t *testing.T) {
	a, _ := Compress(CodecGzip, []byte("first member, "))
	b, _ := Compress(CodecGzip, []byte("second member"))
	out, err := Decompress(CodecGzip, append(append([]byte{}, a...), b...), 100)
	if err != nil || string(out) != "first member, second member" {
		t.Fatalf("two gzip members: %q, %v", out, err)
	}
	if _, err := Decompress(CodecGzip, append(append([]byte{}, a...), 1, 2, 3), 100); !errors.Is(err, ErrCorrupt) {
		t.Errorf("gzip member then junk: %v, want ErrCorrupt", err)
	}
	bad := append([]byte{}, a...)
	bad[len(bad)-6] ^= 1 // the CRC-32 in the trailer
	if _, err := Decompress(CodecGzip, bad, 100); !errors.Is(err, ErrCorrupt) {
		t.Errorf("gzip with a bad trailer CRC: %v, want ErrCorrupt", err)
	}
}

// Decompression bombs: inputs of a few hundred KiB at most that expand to hundreds of MiB.
// Each must be refused with ErrTooLarge having allocated a bounded amount, far below what
// the input would expand to.
func TestDecompressionBombs(t *testing.T) {
	const capBytes = 1 << 20
	const allocMax = 24 << 20
	bombs := map[Codec][]byte{
		CodecGzip: gzipBomb(t, 256),
		CodecLZ4:  lz4Bomb(t, 64),
		CodecZstd: zstdBomb(256<<20, false),
	}
	for codec, bomb := range bombs {
		var err error
		allocated := allocatedBy(func() { _, err = Decompress(codec, bomb, capBytes) })
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s bomb of %d bytes: %v, want ErrTooLarge", codec, len(bomb), err)
		}
		if allocated > allocMax {
			t.Errorf("%s bomb of %d bytes: allocated %d bytes refusing it", codec, len(bomb), allocated)
		}
	}
	// A zstd frame that declares its 1 TiB size is refused from the header.
	var err error
	allocated := allocatedBy(func() { _, err = Decompress(CodecZstd, zstdBomb(1<<40, true), capBytes) })
	if !errors.Is(err, ErrTooLarge) || allocated > allocMax {
		t.Errorf("zstd frame declaring 1 TiB: %v after allocating %d bytes", err, allocated)
	}
}

// gzipBomb concatenates members of 1 MiB of zeros.
func gzipBomb(t testing.TB, mebibytes int) []byte {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 1<<20))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(buf.Bytes(), mebibytes)
}

// lz4Bomb concatenates frames of 4 MiB of zeros.
func lz4Bomb(t testing.TB, frames int) []byte {
	return bytes.Repeat(lz4Frame(t, make([]byte, 4<<20), lz4.BlockSizeOption(lz4.Block4Mb)), frames)
}

// zstdBomb writes by hand one zstd frame of RLE blocks of zeros, totalSize bytes in all.
// With declared set, the frame header states the size.
func zstdBomb(totalSize uint64, declared bool) []byte {
	out := binary.LittleEndian.AppendUint32(nil, 0xfd2fb528)
	if declared {
		// Frame header descriptor: 8-byte content size, no single segment, no checksum.
		out = append(out, 3<<6)
	} else {
		out = append(out, 0)
	}
	out = append(out, 10<<3) // window descriptor: 2^(10+10) = 1 MiB window
	if declared {
		out = binary.LittleEndian.AppendUint64(out, totalSize)
	}
	const blockSize = 128 << 10
	blocks := (totalSize + blockSize - 1) / blockSize
	if declared {
		blocks = 1 // the header alone must be refused
	}
	for i := uint64(0); i < blocks; i++ {
		last := uint32(0)
		if i == blocks-1 {
			last = 1
		}
		// Block header: last bit, type 1 (RLE), size; then the one byte to repeat.
		h := last | 1<<1 | blockSize<<3
		out = append(out, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return out
}

// allocatedBy returns the bytes fn allocated on the heap.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestZstdBombShapeDecodes(t *testing.T) {
	// The hand-made bomb must be a valid frame, or the test above proves nothing.
	out, err := Decompress(CodecZstd, zstdBomb(3<<17, false), 3<<17)
	if err != nil || len(out) != 3<<17 || !bytes.Equal(out, make([]byte, 3<<17)) {
		t.Fatalf("small RLE frame: %d bytes, %v", len(out), err)
	}
}

// TestNoGoroutines guards the determinism rule for core: no codec may start a goroutine,
// not even one that outlives the call inside a reused Coder.
func TestNoGoroutines(t *testing.T) {
	in := bytes.Join(jsonValues(300, 1024, 10), nil) // several blocks of every codec
	before := runtime.NumGoroutine()
	var c Coder
	for _, codec := range allCodecs {
		for range 3 {
			z, err := c.Compress(codec, in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Decompress(codec, z, len(in)); err != nil {
				t.Fatal(err)
			}
			if _, err := Decompress(codec, z, len(in)); err != nil {
				t.Fatal(err)
			}
			if n := runtime.NumGoroutine(); n != before {
				t.Fatalf("%s: %d goroutines, %d before", codec, n, before)
			}
		}
	}
}

func TestEmptySnappyBlock(t *testing.T) {
	// A raw snappy block of decoded length 0 is the valid encoding of nothing.
	out, err := Decompress(CodecSnappy, []byte{0}, 0)
	if err != nil || len(out) != 0 {
		t.Fatalf("%q, %v", out, err)
	}
}

func TestNegativeCapIsABug(t *testing.T) {
	for _, codec := range allCodecs {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: a negative cap did not panic", codec)
				}
			}()
			Decompress(codec, []byte("x"), -1)
		}()
	}
}
