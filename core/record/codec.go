package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Known reports whether c is one of the codecs Kafka defines.
func (c Codec) Known() bool { return c >= CodecNone && c <= CodecZstd }

// Coder compresses and decompresses records, keeping the codecs' state (zstd's tables
// above all) from one call to the next. The zero value is ready to use. A Coder must not
// be used by two goroutines at once; the node's loop or the simulator owns one.
//
// Every codec is configured to run on the calling goroutine only: zstd with a concurrency
// of 1, used through EncodeAll and its synchronous stream decoder, lz4 with a concurrency
// of 1. Nothing here starts a goroutine.
type Coder struct {
	src   bytes.Reader
	gzipW *gzip.Writer
	gzipR *gzip.Reader
	lz4W  *lz4.Writer
	lz4R  *lz4.Reader
	zstdE *zstd.Encoder
	zstdD *zstd.Decoder
	// capped wraps the decompressor in use, xerial reads xerial snappy; window is the
	// buffer through which ValidateProduce reads decompressed records (see scanner).
	capped cappedReader
	xerial xerialReader
	window []byte
}

// Compress compresses src with codec using a fresh Coder. See Coder.Compress.
func Compress(codec Codec, src []byte) ([]byte, error) {
	var c Coder
	return c.Compress(codec, src)
}

// Decompress decompresses src using a fresh Coder. See Coder.Decompress.
func Decompress(codec Codec, src []byte, sizeMax int) ([]byte, error) {
	if codec == CodecNone {
		// The common case needs no codec state; skip allocating it.
		return uncompressed(src, sizeMax)
	}
	var c Coder
	return c.Decompress(codec, src, sizeMax)
}

// Compress compresses src with codec, as a producer would before putting the records in a
// batch. The result is newly allocated, except for CodecNone, which returns src itself.
func (c *Coder) Compress(codec Codec, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		return c.compressGzip(src)
	case CodecSnappy:
		// Raw snappy: every client reads it, and it needs no framing state.
		return s2.EncodeSnappy(nil, src), nil
	case CodecLZ4:
		return c.compressLZ4(src)
	case CodecZstd:
		return c.compressZstd(src)
	}
	return nil, fmt.Errorf("%w: %s", ErrCodec, codec)
}

// Decompress reverses Compress for any codec, reading the variants real clients write:
// gzip members (concatenated members too), raw or xerial-framed snappy, LZ4 frames, zstd
// frames. The output may not exceed sizeMax bytes: past that Decompress stops and returns
// ErrTooLarge, having held at most sizeMax+1 bytes of output plus the codec's own block
// or window buffer (4 MiB for lz4; for zstd 8 MiB, or up to sizeMax when larger). Malformed input gives an
// error wrapping ErrCorrupt, an unknown codec ErrCodec. The result is newly allocated,
// except for CodecNone, which returns src itself, subject to the same cap.
func (c *Coder) Decompress(codec Codec, src []byte, sizeMax int) ([]byte, error) {
	if codec == CodecNone {
		return uncompressed(src, sizeMax)
	}
	assertCap(sizeMax)
	defer c.src.Reset(nil) // hold on to no caller's bytes between calls
	if len(src) == 0 && codec.Known() {
		// Every framing has a header; some readers take no input for an empty stream.
		return nil, corruptCodec(codec, errors.New("no compressed data"))
	}
	switch codec {
	case CodecSnappy:
		return decompressSnappy(src, sizeMax)
	case CodecGzip, CodecLZ4, CodecZstd:
		r, sizeHint, err := c.decompressor(codec, src, sizeMax)
		if err != nil {
			return nil, err
		}
		return readCapped(r, sizeHint)
	}
	return nil, fmt.Errorf("%w: %s", ErrCodec, codec)
}

func uncompressed(src []byte, sizeMax int) ([]byte, error) {
	assertCap(sizeMax)
	if len(src) > sizeMax {
		return nil, tooLarge(CodecNone, sizeMax)
	}
	return src, nil
}

func assertCap(sizeMax int) {
	if sizeMax < 0 {
		panic(fmt.Sprintf("record: negative decompression cap %d", sizeMax))
	}
}

func tooLarge(codec Codec, sizeMax int) error {
	return fmt.Errorf("%w: %s records exceed %d bytes", ErrTooLarge, codec, sizeMax)
}

func corruptCodec(codec Codec, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, codec, err)
}

// compressedSizeHint sizes the output buffer of a compressor: records usually compress
// at least twofold.
func compressedSizeHint(srcSize int) int { return srcSize/2 + 64 }

// decompressedSizeHint sizes the first output buffer of a stream decompressor when the
// stream does not say how large it is.
func decompressedSizeHint(srcSize int) int { return srcSize * 4 }

// gzipSizeHint reads the size a gzip stream ends with (of its last member, modulo 2^32).
// A lie costs at most an allocation of the cap, which the caller accepted.
func gzipSizeHint(src []byte) int {
	const trailerSize = 8 // CRC-32 and size, little-endian
	if len(src) < 10+trailerSize {
		return decompressedSizeHint(len(src))
	}
	// One byte more than the data lets the reader see the end without growing.
	return int(binary.LittleEndian.Uint32(src[len(src)-4:])) + 1
}

func (c *Coder) compressGzip(src []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(compressedSizeHint(len(src)))
	if c.gzipW == nil {
		w, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("record: gzip writer: %w", err)
		}
		c.gzipW = w
	} else {
		c.gzipW.Reset(&buf)
	}
	if _, err := c.gzipW.Write(src); err != nil {
		return nil, fmt.Errorf("record: gzip: %w", err)
	}
	if err := c.gzipW.Close(); err != nil {
		return nil, fmt.Errorf("record: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// gzipStream opens src's gzip members for reading.
func (c *Coder) gzipStream(src []byte) (io.Reader, error) {
	c.src.Reset(src)
	var err error
	if c.gzipR == nil {
		c.gzipR, err = gzip.NewReader(&c.src)
	} else {
		err = c.gzipR.Reset(&c.src)
	}
	if err != nil {
		c.gzipR = nil // a reader whose header failed is not worth resetting
		return nil, corruptCodec(CodecGzip, err)
	}
	return c.gzipR, nil
}

// lz4BlockSize is the block size Kafka's own clients use; larger blocks only cost memory
// on both sides for batches that are rarely bigger.
const lz4BlockSize = lz4.Block64Kb

func (c *Coder) compressLZ4(src []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(compressedSizeHint(len(src)))
	if c.lz4W == nil {
		c.lz4W = lz4.NewWriter(&buf)
		// One goroutine (the default, stated so it cannot drift) and a content checksum,
		// which every Kafka client verifies or skips. Reset keeps these options.
		err := c.lz4W.Apply(lz4.ConcurrencyOption(1), lz4.BlockSizeOption(lz4BlockSize), lz4.ChecksumOption(true))
		if err != nil {
			c.lz4W = nil
			return nil, fmt.Errorf("record: lz4 writer: %w", err)
		}
	} else {
		c.lz4W.Reset(&buf)
	}
	if _, err := c.lz4W.Write(src); err != nil {
		c.lz4W = nil
		return nil, fmt.Errorf("record: lz4: %w", err)
	}
	if err := c.lz4W.Close(); err != nil {
		c.lz4W = nil
		return nil, fmt.Errorf("record: lz4: %w", err)
	}
	return buf.Bytes(), nil
}

// lz4Stream opens src's LZ4 frames for reading.
func (c *Coder) lz4Stream(src []byte) (io.Reader, error) {
	c.src.Reset(src)
	if c.lz4R == nil {
		c.lz4R = lz4.NewReader(&c.src)
		if err := c.lz4R.Apply(lz4.ConcurrencyOption(1)); err != nil {
			c.lz4R = nil
			return nil, fmt.Errorf("record: lz4 reader: %w", err)
		}
	} else {
		c.lz4R.Reset(&c.src)
	}
	return c.lz4R, nil
}

// zstdWindowBytes keeps the window we write small: a batch is rarely larger, and every
// consumer must allocate the window to decode.
const zstdWindowBytes = 64 << 10

// zstdWindowMin is the window we accept whatever the cap: the 8 MiB the zstd format
// recommends every decoder support. The decoder allocates the window a frame declares
// before decoding anything, so larger windows are accepted only up to the caller's cap.
// Java's client writes 2 MiB windows at its default level; only levels 20 to 22 exceed
// 8 MiB.
const zstdWindowMin = 8 << 20

func (c *Coder) compressZstd(src []byte) ([]byte, error) {
	if c.zstdE == nil {
		// Concurrency 1 and EncodeAll keep the encoder on the calling goroutine.
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindowBytes),
			zstd.WithZeroFrames(true),
			zstd.WithLowerEncoderMem(true),
		)
		if err != nil {
			return nil, fmt.Errorf("record: zstd writer: %w", err)
		}
		c.zstdE = enc
	}
	return c.zstdE.EncodeAll(src, make([]byte, 0, compressedSizeHint(len(src)))), nil
}

// zstdStream opens src's zstd frames for reading, returning a hint of their decoded size.
// It streams rather than calling DecodeAll: DecodeAll checks windows against its output
// cap, which refuses small frames under small caps, and without a declared content size
// it only stops at the cap after decoding up to it. The stream decoder with a concurrency
// of 1 runs synchronously, as fast as DecodeAll once its state is reused, and lets the
// capped reader stop one byte past the cap.
func (c *Coder) zstdStream(src []byte, sizeMax int) (io.Reader, int, error) {
	// A first frame that declares too large a size is refused from its header alone.
	sizeHint := decompressedSizeHint(len(src))
	var frame zstd.Header
	if frame.Decode(src) == nil && frame.HasFCS {
		if frame.FrameContentSize > uint64(sizeMax) {
			return nil, 0, tooLarge(CodecZstd, sizeMax)
		}
		sizeHint = int(frame.FrameContentSize) + 1
	}
	c.src.Reset(src)
	if c.zstdD == nil {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, 0, fmt.Errorf("record: zstd reader: %w", err)
		}
		c.zstdD = dec
	}
	// In a stream the memory cap bounds the window.
	windowMax := uint64(zstdWindowMax(sizeMax))
	err := c.zstdD.ResetWithOptions(&c.src, zstd.WithDecoderMaxWindow(windowMax), zstd.WithDecoderMaxMemory(windowMax))
	if err != nil {
		c.zstdD = nil
		return nil, 0, fmt.Errorf("record: zstd reader: %w", err)
	}
	return c.zstdD, sizeHint, nil
}

func zstdWindowMax(sizeMax int) int { return max(sizeMax, zstdWindowMin) }

// decompressor opens src, compressed with a gzip, LZ4 or zstd codec, for reading through
// a capped reader, with a hint of its decoded size. src must not be empty.
func (c *Coder) decompressor(codec Codec, src []byte, sizeMax int) (*cappedReader, int, error) {
	var r io.Reader
	var err error
	sizeHint := decompressedSizeHint(len(src))
	switch codec {
	case CodecGzip:
		r, err = c.gzipStream(src)
		sizeHint = gzipSizeHint(src)
	case CodecLZ4:
		r, err = c.lz4Stream(src)
	case CodecZstd:
		r, sizeHint, err = c.zstdStream(src, sizeMax)
	default:
		panic(fmt.Sprintf("record: no stream decompressor for %s", codec))
	}
	if err != nil {
		return nil, 0, err
	}
	c.capped = cappedReader{codec: codec, r: r, sizeMax: sizeMax}
	return &c.capped, sizeHint, nil
}

// cappedReader reads what a decompressor produces and fails once it has produced more
// than sizeMax bytes: it asks for one byte past the cap at most, and past the cap it
// reports ErrTooLarge whatever the codec says with those bytes, so the outcome does not
// depend on how large the caller's reads are. Other codec errors wrap ErrCorrupt.
type cappedReader struct {
	codec   Codec
	r       io.Reader
	sizeMax int
	n       int // bytes produced so far
	idle    int // reads in a row that produced nothing
	err     error
}

func (s *cappedReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if room := s.sizeMax - s.n; len(p) > room {
		p = p[:room+1]
	}
	n, err := s.r.Read(p)
	s.n += n
	switch {
	case s.n > s.sizeMax:
		s.err = tooLarge(s.codec, s.sizeMax)
	case err == io.EOF:
		s.err = io.EOF
	case err != nil:
		s.err = s.codecError(err)
	case n > 0:
		s.idle = 0
	default:
		// A reader that makes no progress must not spin forever.
		if s.idle++; s.idle > 100 {
			s.err = corruptCodec(s.codec, io.ErrNoProgress)
		}
	}
	return n, s.err
}

func (s *cappedReader) codecError(err error) error {
	if s.codec == CodecZstd && (errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded)) {
		return fmt.Errorf("%w: zstd window larger than %d bytes", ErrTooLarge, zstdWindowMax(s.sizeMax))
	}
	return corruptCodec(s.codec, err)
}

// readCapped reads r to its end. sizeHint sizes the first allocation.
func readCapped(r *cappedReader, sizeHint int) ([]byte, error) {
	// One byte past the cap is all r produces before it fails.
	holdMax := r.sizeMax
	if holdMax < math.MaxInt {
		holdMax++
	}
	buf := make([]byte, 0, min(max(sizeHint, 512), holdMax))
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), holdMax))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// xerialMagic opens the framing that snappy-java's SnappyOutputStream writes, which the
// Java client uses for snappy batches.
var xerialMagic = [8]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = len(xerialMagic) + 4 + 4 // magic, version, minimum compatible version
	xerialChunkHead  = 4                        // big-endian int32 length of the chunk
)

func decompressSnappy(src []byte, sizeMax int) ([]byte, error) {
	if bytes.HasPrefix(src, xerialMagic[:]) {
		return decodeXerial(src, sizeMax)
	}
	n, err := snappyDecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > sizeMax {
		return nil, tooLarge(CodecSnappy, sizeMax)
	}
	out, err := snappy.DecodeStrict(make([]byte, n), src)
	if err != nil {
		return nil, corruptCodec(CodecSnappy, err)
	}
	return out, nil
}

// snappyDecodedLen reads the length a snappy block claims to decode to, so the caller can
// refuse it before allocating.
func snappyDecodedLen(block []byte) (int, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return 0, corruptCodec(CodecSnappy, err)
	}
	return n, nil
}

// decodeXerial checks the whole framing and the total decoded size first, then allocates
// once and decodes each chunk in place.
func decodeXerial(src []byte, sizeMax int) ([]byte, error) {
	chunks, total, err := xerialChunks(nil, src, sizeMax)
	if err != nil {
		return nil, err
	}
	out := make([]byte, total)
	pos := 0
	for _, c := range chunks {
		n, _ := snappy.DecodedLen(c) // validated by xerialChunks
		if _, err := snappy.DecodeStrict(out[pos:pos+n], c); err != nil {
			return nil, corruptCodec(CodecSnappy, fmt.Errorf("xerial chunk at decoded byte %d: %w", pos, err))
		}
		pos += n
	}
	return out, nil
}

// xerialChunks splits an xerial stream into its snappy blocks, appending them to chunks,
// and sums their decoded lengths, failing as soon as the sum passes sizeMax.
func xerialChunks(chunks [][]byte, src []byte, sizeMax int) (_ [][]byte, total int, err error) {
	if len(src) < xerialHeaderSize {
		return nil, 0, corruptCodec(CodecSnappy, fmt.Errorf("xerial header of %d bytes", len(src)))
	}
	rest := src[xerialHeaderSize:]
	for len(rest) > 0 {
		if len(rest) < xerialChunkHead {
			return nil, 0, corruptCodec(CodecSnappy, fmt.Errorf("xerial chunk length cut after %d bytes", len(rest)))
		}
		size := int64(int32(binary.BigEndian.Uint32(rest)))
		rest = rest[xerialChunkHead:]
		if size < 0 || size > int64(len(rest)) {
			return nil, 0, corruptCodec(CodecSnappy, fmt.Errorf("xerial chunk of %d bytes with %d left", size, len(rest)))
		}
		chunk := rest[:size:size]
		rest = rest[size:]
		n, err := snappyDecodedLen(chunk)
		if err != nil {
			return nil, 0, err
		}
		if total += n; total > sizeMax {
			return nil, 0, tooLarge(CodecSnappy, sizeMax)
		}
		chunks = append(chunks, chunk)
	}
	return chunks, total, nil
}
