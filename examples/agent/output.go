package main

import (
	"io"

	"github.com/metaflow-go/metaflow/flow"
	"github.com/metaflow-go/metaflow/l7"
)

// output writes records as JSON Lines or text, one per line, reusing one
// buffer. The first write error sticks and stops further output.
type output struct {
	w    io.Writer
	text bool
	buf  []byte
	err  error
}

func newOutput(w io.Writer, text bool) *output {
	return &output{w: w, text: text, buf: make([]byte, 0, 4096)}
}

type appender interface {
	AppendJSON([]byte) []byte
	AppendText([]byte) []byte
}

func (o *output) write(r appender) {
	if o.err != nil {
		return
	}
	if o.text {
		o.buf = r.AppendText(o.buf[:0])
	} else {
		o.buf = r.AppendJSON(o.buf[:0])
	}
	o.buf = append(o.buf, '\n')
	_, o.err = o.w.Write(o.buf)
}

func (o *output) l4(r *flow.Record) { o.write(r) }

func (o *output) l7(r *l7.Record) { o.write(r) }

func (o *output) flush() error {
	if f, ok := o.w.(interface{ Flush() error }); ok && o.err == nil {
		o.err = f.Flush()
	}
	return o.err
}
