package pipeline

import (
	"bufio"
	"io"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// WriterSink writes records to an io.Writer, one per line, as JSON Lines
// (the record contract's keys) or as text, through a 64 KiB buffer that
// Flush empties. It is a synchronous sink: it encodes each record into a
// reused buffer without allocating and does not keep it. It is not safe
// for concurrent use on its own; the pipeline serialises its calls.
type WriterSink struct {
	w    *bufio.Writer
	dst  io.Writer
	text bool
	buf  []byte
}

// NewJSONSink returns a sink writing JSON Lines to w.
func NewJSONSink(w io.Writer) *WriterSink { return newWriterSink(w, false) }

// NewTextSink returns a sink writing one human-readable line per record to
// w.
func NewTextSink(w io.Writer) *WriterSink { return newWriterSink(w, true) }

func newWriterSink(w io.Writer, text bool) *WriterSink {
	return &WriterSink{w: bufio.NewWriterSize(w, 64<<10), dst: w, text: text, buf: make([]byte, 0, 4096)}
}

// WriteL4 writes one l4_flow_log record.
func (s *WriterSink) WriteL4(r *flow.Record) error {
	if s.text {
		s.buf = r.AppendText(s.buf[:0])
	} else {
		s.buf = r.AppendJSON(s.buf[:0])
	}
	return s.write()
}

// WriteL7 writes one l7_flow_log record.
func (s *WriterSink) WriteL7(r *l7.Record) error {
	if s.text {
		s.buf = r.AppendText(s.buf[:0])
	} else {
		s.buf = r.AppendJSON(s.buf[:0])
	}
	return s.write()
}

func (s *WriterSink) write() error {
	s.buf = append(s.buf, '\n')
	_, err := s.w.Write(s.buf)
	return err
}

// Flush writes out the buffer, and flushes the destination too when it
// has a Flush method.
func (s *WriterSink) Flush() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if f, ok := s.dst.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}
