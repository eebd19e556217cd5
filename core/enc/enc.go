// Package enc is the small binary codec under seedlog's peer messages: big-endian fixed
// ints, unsigned varints for lengths, length-prefixed bytes and strings. A Reader never
// panics on bad input: the first failure sticks, every later read returns zero values, and
// Err reports what went wrong.
package enc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort and ErrBad are the two ways bytes fail to decode.
var (
	ErrShort = errors.New("enc: truncated")
	ErrBad   = errors.New("enc: malformed")
)

// Writer appends encodings to B.
type Writer struct{ B []byte }

func (w *Writer) U8(v uint8)   { w.B = append(w.B, v) }
func (w *Writer) Bool(v bool)  { w.B = append(w.B, b2u(v)) }
func (w *Writer) I16(v int16)  { w.B = binary.BigEndian.AppendUint16(w.B, uint16(v)) }
func (w *Writer) I32(v int32)  { w.B = binary.BigEndian.AppendUint32(w.B, uint32(v)) }
func (w *Writer) I64(v int64)  { w.B = binary.BigEndian.AppendUint64(w.B, uint64(v)) }
func (w *Writer) U64(v uint64) { w.B = binary.BigEndian.AppendUint64(w.B, v) }
func (w *Writer) Len(n int)    { w.B = binary.AppendUvarint(w.B, uint64(n)) }

// Bytes writes a length-prefixed byte string; nil and empty are both written as empty.
func (w *Writer) Bytes(v []byte) { w.Len(len(v)); w.B = append(w.B, v...) }
func (w *Writer) String(v string) {
	w.Len(len(v))
	w.B = append(w.B, v...)
}

// I32s writes a length-prefixed slice of int32.
func (w *Writer) I32s(v []int32) {
	w.Len(len(v))
	for _, x := range v {
		w.I32(x)
	}
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// Reader decodes from B. Max bounds every length it reads (elements or bytes), so a
// hostile length cannot make it allocate more than the input could hold.
type Reader struct {
	B   []byte
	err error
}

// Err is the first decoding failure, or nil.
func (r *Reader) Err() error { return r.err }

// Done reports an error if decoding failed or bytes are left over.
func (r *Reader) Done() error {
	if r.err == nil && len(r.B) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrBad, len(r.B))
	}
	return r.err
}

// Fail records err unless an earlier failure is already recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.B) < n {
		r.err = ErrShort
		return nil
	}
	b := r.B[:n:n]
	r.B = r.B[n:]
	return b
}

func (r *Reader) U8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *Reader) Bool() bool {
	switch r.U8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.Fail(fmt.Errorf("%w: bool", ErrBad))
	return false
}

func (r *Reader) I16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *Reader) I32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *Reader) I64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *Reader) U64() uint64 { return uint64(r.I64()) }

// Len reads a length and checks that at least unit*n bytes remain, so the caller can
// allocate n elements safely. unit is the smallest encoded size of one element (>= 1).
func (r *Reader) Len(unit int) int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.err = fmt.Errorf("%w: length", ErrBad)
		return 0
	}
	r.B = r.B[n:]
	if v > uint64(len(r.B)/max(unit, 1)) {
		r.err = ErrShort
		return 0
	}
	return int(v)
}

// Bytes reads a length-prefixed byte string. The result aliases the input.
func (r *Reader) Bytes() []byte { return r.take(r.Len(1)) }

func (r *Reader) String() string { return string(r.Bytes()) }

func (r *Reader) I32s() []int32 {
	n := r.Len(4)
	if n == 0 {
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = r.I32()
	}
	return v
}
