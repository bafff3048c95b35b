package pipeline

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// Output buffering of WriterSink: lines gather in a 64 KiB buffer, written
// out once they pass flushAt, so that a line of up to 8 KiB still fits
// without growing it.
const (
	writerBuf   = 64 << 10
	flushAt     = writerBuf - 8<<10
	writerShed  = 1 << 20 // a buffer grown past this by a huge line is let go after its write
	calmRecords = 256     // records encoded apart after the buffer was found busy
)

// WriterSink writes records to an io.Writer, one per line, as JSON Lines
// (the record contract's keys) or as text, through a 64 KiB buffer that
// Flush empties. It is a synchronous sink that does not keep records, and
// a ConcurrentSink, allocation-free in steady state.
//
// A record is encoded straight into the buffer, under the sink's lock,
// when the lock is free: with one shard (one goroutine writing) that is
// every record, and a line costs no copy and no scratch buffer. Shards that
// find the lock taken encode in parallel instead, each into a pooled
// buffer, and only the copy of the finished line is serialised; once a
// writer has found the lock taken, all keep to that for the next 256
// records (calmRecords), so that several shards do not queue behind each
// other's encoding. In a pipeline of several shards, each shard gathers
// its lines apart and adds them to the buffer once per batch of packets
// (and when they pass 32 KiB), so that the lock is taken once a batch, not
// once a line; a shard's lines keep their order.
type WriterSink struct {
	mu   sync.Mutex // guards buf, err, and writes to dst
	buf  []byte     // lines not yet written to dst
	err  error      // the first write error: every later write returns it
	dst  io.Writer
	text bool

	// lines counts the lines written (stored under mu); until lines
	// reaches calm, writers encode apart (see WriterSink).
	lines, calm atomic.Uint64

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
	s := &WriterSink{buf: make([]byte, 0, writerBuf), dst: w, text: text}
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return s
}

// WriteL4 writes one l4_flow_log record.
func (s *WriterSink) WriteL4(r *flow.Record) error { return put(s, r) }

// WriteL7 writes one l7_flow_log record.
func (s *WriterSink) WriteL7(r *l7.Record) error { return put(s, r) }

// WriteSocket writes one ebpf_socket_log record.
func (s *WriterSink) WriteSocket(r *SocketRecord) error { return put(s, r) }

// appender is a record that encodes itself as a JSON or text line.
type appender interface {
	AppendJSON([]byte) []byte
	AppendText([]byte) []byte
}

// put encodes r into the output buffer when the lock is free, else into a
// pooled buffer written under the lock.
func put[R appender](s *WriterSink, r R) error {
	if s.lockFree() {
		if s.text {
			s.buf = r.AppendText(s.buf)
		} else {
			s.buf = r.AppendJSON(s.buf)
		}
		return s.endLine()
	}
	bp := s.bufs.Get().(*[]byte)
	if s.text {
		*bp = r.AppendText((*bp)[:0])
	} else {
		*bp = r.AppendJSON((*bp)[:0])
	}
	return s.write(bp)
}

// staged is one shard's lines, encoded apart and added to a WriterSink's
// buffer at once (commit): with several shards, one lock per batch of
// packets instead of one per line, and no waiting on the other shards'
// lines in between.
type staged struct {
	b []byte
	n uint64 // lines in b
}

// stagedMax bounds a shard's staged lines: past it they are committed.
const stagedMax = 32 << 10

// stage encodes r as a line into st, committing st once it passes
// stagedMax.
func stage[R appender](s *WriterSink, st *staged, r R) error {
	if s.text {
		st.b = r.AppendText(st.b)
	} else {
		st.b = r.AppendJSON(st.b)
	}
	st.b = append(st.b, '\n')
	st.n++
	if len(st.b) >= stagedMax {
		return s.commit(st)
	}
	return nil
}

func (s *WriterSink) stageL4(st *staged, r *flow.Record) error      { return stage(s, st, r) }
func (s *WriterSink) stageL7(st *staged, r *l7.Record) error        { return stage(s, st, r) }
func (s *WriterSink) stageSocket(st *staged, r *SocketRecord) error { return stage(s, st, r) }

// commit adds st's lines to the buffer, writing it out once it is full
// enough, and empties st.
func (s *WriterSink) commit(st *staged) error {
	if len(st.b) == 0 {
		return nil
	}
	s.mu.Lock()
	s.buf = append(s.buf, st.b...)
	s.lines.Store(s.lines.Load() + st.n)
	var err error
	if len(s.buf) >= flushAt || s.err != nil {
		err = s.writeOut()
	}
	s.mu.Unlock()
	st.b, st.n = st.b[:0], 0
	if cap(st.b) > writerShed {
		st.b = nil
	}
	return err
}

// lockFree takes mu and reports true when it is free and no other writer
// was seen lately: the caller then encodes into buf and calls endLine.
// Otherwise the caller encodes apart and calls write.
func (s *WriterSink) lockFree() bool {
	if s.lines.Load() < s.calm.Load() {
		return false
	}
	if s.mu.TryLock() {
		return true
	}
	s.calm.Store(s.lines.Load() + calmRecords)
	return false
}

// endLine ends the line just encoded into buf, writes buf out once it is
// full enough, and releases mu.
func (s *WriterSink) endLine() error {
	s.buf = append(s.buf, '\n')
	err := s.lineDone()
	s.mu.Unlock()
	return err
}

// write copies the line encoded apart into buf, returns its buffer to
// the pool and writes buf out once it is full enough.
func (s *WriterSink) write(bp *[]byte) error {
	s.mu.Lock()
	s.buf = append(append(s.buf, *bp...), '\n')
	err := s.lineDone()
	s.mu.Unlock()
	s.bufs.Put(bp)
	return err
}

// lineDone counts a line added to buf and writes buf out once it passes
// flushAt. s.mu is held.
func (s *WriterSink) lineDone() error {
	s.lines.Store(s.lines.Load() + 1)
	if len(s.buf) < flushAt && s.err == nil {
		return nil
	}
	return s.writeOut()
}

// writeOut writes buf to dst. s.mu is held. A write error (or a short
// write) is kept and returned from then on, as bufio.Writer does; the
// lines not written are dropped.
func (s *WriterSink) writeOut() error {
	if s.err != nil {
		s.buf = s.buf[:0]
		return s.err
	}
	if len(s.buf) == 0 {
		return nil
	}
	n, err := s.dst.Write(s.buf)
	if err == nil && n < len(s.buf) {
		err = io.ErrShortWrite
	}
	s.err = err
	if cap(s.buf) > writerShed {
		s.buf = make([]byte, 0, writerBuf)
	}
	s.buf = s.buf[:0]
	return err
}

// Flush writes out the buffer, and flushes the destination too when it
// has a Flush method.
func (s *WriterSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeOut(); err != nil {
		return err
	}
	if f, ok := s.dst.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}
