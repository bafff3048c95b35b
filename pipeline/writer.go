package pipeline

import (
	"bufio"
	"io"
	"sync"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// WriterSink writes records to an io.Writer, one per line, as JSON Lines
// (the record contract's keys) or as text, through a 64 KiB buffer that
// Flush empties. It is a synchronous sink that does not keep records, and
// a ConcurrentSink: shards encode in parallel, each into a pooled buffer
// (no allocation in steady state), and only the write of the finished line
// is serialised.
type WriterSink struct {
	mu   sync.Mutex // guards w
	w    *bufio.Writer
	dst  io.Writer
	text bool
	bufs sync.Pool // *[]byte
}

// ConcurrentSafe marks WriterSink as a ConcurrentSink.
func (s *WriterSink) ConcurrentSafe() {}

// NewJSONSink returns a sink writing JSON Lines to w.
func NewJSONSink(w io.Writer) *WriterSink { return newWriterSink(w, false) }

// NewTextSink returns a sink writing one human-readable line per record to
// w.
func NewTextSink(w io.Writer) *WriterSink { return newWriterSink(w, true) }

func newWriterSink(w io.Writer, text bool) *WriterSink {
	s := &WriterSink{w: bufio.NewWriterSize(w, 64<<10), dst: w, text: text}
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return s
}

// WriteL4 writes one l4_flow_log record.
func (s *WriterSink) WriteL4(r *flow.Record) error {
	bp := s.bufs.Get().(*[]byte)
	if s.text {
		*bp = r.AppendText((*bp)[:0])
	} else {
		*bp = r.AppendJSON((*bp)[:0])
	}
	return s.write(bp)
}

// WriteL7 writes one l7_flow_log record.
func (s *WriterSink) WriteL7(r *l7.Record) error {
	bp := s.bufs.Get().(*[]byte)
	if s.text {
		*bp = r.AppendText((*bp)[:0])
	} else {
		*bp = r.AppendJSON((*bp)[:0])
	}
	return s.write(bp)
}

// WriteSocket writes one ebpf_socket_log record.
func (s *WriterSink) WriteSocket(r *SocketRecord) error {
	bp := s.bufs.Get().(*[]byte)
	if s.text {
		*bp = r.AppendText((*bp)[:0])
	} else {
		*bp = r.AppendJSON((*bp)[:0])
	}
	return s.write(bp)
}

func (s *WriterSink) write(bp *[]byte) error {
	*bp = append(*bp, '\n')
	s.mu.Lock()
	_, err := s.w.Write(*bp)
	s.mu.Unlock()
	s.bufs.Put(bp)
	return err
}

// Flush writes out the buffer, and flushes the destination too when it
// has a Flush method.
func (s *WriterSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		return err
	}
	if f, ok := s.dst.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}
