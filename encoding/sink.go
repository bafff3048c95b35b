package encoding

import (
	"sync"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// DefaultBatchRows is the rows a Sink gathers before it writes a frame.
const DefaultBatchRows = 16384

// Sink gathers records into frames for a sender: it has the methods of a
// pipeline sink (WriteL4, WriteL7, Flush), writes a frame when BatchRows
// rows are waiting and on Flush (every pipeline tick), and hands each frame
// to send, which owns it until it returns (it must copy it to keep it).
// The first error of send is returned by the write or flush that called it.
//
// A Sink is safe for concurrent use.
type Sink struct {
	mu    sync.Mutex
	enc   *Encoder
	rows  int
	send  func(frame []byte) error
	frame []byte
}

// NewSink returns a Sink writing frames of enc; batchRows <= 0 means
// DefaultBatchRows.
func NewSink(enc *Encoder, batchRows int, send func(frame []byte) error) *Sink {
	if batchRows <= 0 {
		batchRows = DefaultBatchRows
	}
	return &Sink{enc: enc, rows: batchRows, send: send}
}

// WriteL4 adds an l4_flow_log record.
func (s *Sink) WriteL4(r *flow.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc.AddL4(r)
	return s.full()
}

// WriteL7 adds an l7_flow_log record.
func (s *Sink) WriteL7(r *l7.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc.AddL7(r)
	return s.full()
}

func (s *Sink) full() error {
	if s.enc.Rows() < s.rows {
		return nil
	}
	return s.write()
}

// Flush writes the waiting rows, if any, as a frame.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc.Rows() == 0 {
		return nil
	}
	return s.write()
}

// Stats returns the counters of the Sink's Encoder.
func (s *Sink) Stats() EncoderStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.Stats()
}

func (s *Sink) write() error {
	var err error
	s.frame, err = s.enc.AppendFrame(s.frame[:0])
	if err != nil {
		return err
	}
	return s.send(s.frame)
}
