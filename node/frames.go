package node

import (
	"bufio"
	"errors"
	"io"
	"net"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/kafka"
)

// frameWriter writes one connection's response frames (kafka.AppendFrame): the frame's
// own bytes through a buffer, and each file span with sendfile when the connection is
// a plain TCP socket, else copied through the buffer (TLS encrypts in the process).
type frameWriter struct {
	bw    *bufio.Writer
	tcp   *net.TCPConn // nil: file spans are copied
	files *spanFiles
	// copied and sent count the span bytes written through the process's memory and
	// those sendfile sent, for the metrics.
	copied, sent int64
}

func newFrameWriter(nc net.Conn, files *spanFiles) *frameWriter {
	w := &frameWriter{bw: bufio.NewWriterSize(nc, connWriteBufferBytes), files: files}
	if tcp, ok := nc.(*net.TCPConn); ok && canSendfile {
		w.tcp = tcp
	}
	return w
}

// write writes a frame with its spans and returns its size. An error means the frame
// was cut short: the connection must be closed (errSpanLost: a span's bytes were no
// longer those its read validated).
func (w *frameWriter) write(frame []byte, cuts []kafka.Cut) (int64, error) {
	total, at := int64(0), 0
	for i, c := range cuts {
		n, err := w.bw.Write(frame[at:c.At])
		total += int64(n)
		if err != nil {
			return total, err
		}
		at = c.At
		// The frame's last byte leaves only after every check: a client never reads a
		// whole frame whose bytes a cut may have changed.
		last := i == len(cuts)-1 && c.At == len(frame)
		if err := w.span(c.Span, last); err != nil {
			return total, err
		}
		total += c.Span.Len
	}
	n, err := w.bw.Write(frame[at:])
	return total + int64(n), err
}

// span writes one span; last says that it ends the frame.
func (w *frameWriter) span(sp disk.Span, last bool) error {
	if sp.File == 0 {
		_, err := w.bw.Write(sp.Data)
		w.copied += int64(len(sp.Data))
		return err
	}
	if w.files == nil {
		return errSpanLost
	}
	h := w.files.open(sp.File)
	if h == nil {
		return errSpanLost
	}
	defer w.files.release(h)
	end := sp.Pos + sp.Len
	if h.intact.Load() < end {
		return errSpanLost
	}
	body := sp.Len
	if last {
		body-- // read before the check below, written after it
	}
	if err := w.file(h, sp.Pos, body); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errSpanLost // the file ends before the span: cut since the read
		}
		return err
	}
	var tail [1]byte
	if last {
		if _, err := h.f.ReadAt(tail[:], sp.Pos+body); err != nil {
			return errSpanLost
		}
	}
	// A cut lowers intact before it truncates: seeing the span intact now, after every
	// byte of it was read, means no cut reached it before they were.
	if h.intact.Load() < end {
		return errSpanLost
	}
	if last {
		w.copied++
		_, err := w.bw.Write(tail[:])
		return err
	}
	return nil
}

// file writes n bytes of h's file from pos: with sendfile, after flushing what the
// buffer holds before them, or through the buffer.
func (w *frameWriter) file(h *heldFile, pos, n int64) error {
	if n == 0 {
		return nil
	}
	if w.tcp != nil {
		if err := w.bw.Flush(); err != nil {
			return err
		}
		k, err := sendFile(w.tcp, h.f, pos, n)
		w.sent += k
		if err == nil && k < n {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	k, err := io.Copy(w.bw, io.NewSectionReader(h.f, pos, n))
	w.copied += k
	if err == nil && k < n {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (w *frameWriter) flush() error { return w.bw.Flush() }
