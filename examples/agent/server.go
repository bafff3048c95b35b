package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/sender"
	"github.com/metaflow-go/metaflow/pipeline"
)

// serverOptions are the flags of the server sink: SmartEncoding batches
// sent to examples/server.
type serverOptions struct {
	url      string
	token    string
	spool    string
	spoolMax int64
	wait     time.Duration
	// TLS: the CA file the server's certificate must chain to, the name
	// it must carry, and the explicit permission to send the token over
	// plaintext http:// to a host that is not loopback.
	ca, serverName    string
	insecurePlaintext bool
	// agentID names the capture point in the rows (agent_id; default
	// the host name).
	agentID string
}

// serverFlags holds the flags of the last parse (registerServerFlags
// resets them).
var serverFlags serverOptions

// registerServerFlags adds -server, -server-token, -server-ca,
// -server-name, -insecure-plaintext, -spool, -spool-max, -server-wait and
// -agent-id to fs.
func registerServerFlags(fs *flag.FlagSet) {
	o := &serverFlags
	*o = serverOptions{}
	fs.StringVar(&o.url, "server", "", "send records to the example server at `url` (\"http://127.0.0.1:26700\", or https://...)")
	fs.StringVar(&o.token, "server-token", "", "bearer `token` of -server (its ingest token)")
	fs.StringVar(&o.ca, "server-ca", "", "trust the PEM CA certificates of `file` for an https:// -server (default: the system's)")
	fs.StringVar(&o.serverName, "server-name", "", "check the https:// -server's certificate against `name` (SNI; default: the URL's host)")
	fs.BoolVar(&o.insecurePlaintext, "insecure-plaintext", false, "allow -server-token over plaintext http:// to a host that is not loopback")
	fs.StringVar(&o.spool, "spool", "", "keep unacknowledged batches in `dir` (resent after a restart; default: in memory)")
	fs.Int64Var(&o.spoolMax, "spool-max", sender.DefaultMaxSpoolBytes, "spool size limit in `bytes`; the oldest batches are dropped beyond it")
	fs.DurationVar(&o.wait, "server-wait", 30*time.Second, "at the end, wait up to `duration` for the server to acknowledge every batch")
	fs.StringVar(&o.agentID, "agent-id", "", "name this capture point in the records sent to -server (agent_id; default: the host name)")
}

// serverHook is the sink and sender attached to a pipeline.
type serverHook struct {
	opts   serverOptions
	stderr io.Writer
	snd    *sender.Sender
}

// attachServer adds the server sink to cfg when -server is set; nil
// without.
func attachServer(cfg *pipeline.Config, stderr io.Writer) (*serverHook, error) {
	o := serverFlags
	if o.url == "" {
		if o.spool != "" || o.token != "" || o.ca != "" || o.serverName != "" {
			return nil, errors.New("-spool, -server-token, -server-ca and -server-name need -server")
		}
		return nil, nil
	}
	tc, err := sender.TLSConfig(o.ca, o.serverName)
	if err != nil {
		return nil, err
	}
	if tc != nil && !strings.HasPrefix(o.url, "https://") {
		return nil, errors.New("-server-ca and -server-name need an https:// -server")
	}
	dict := encoding.NewAgentDict()
	snd, err := sender.New(sender.Config{URL: o.url, Token: o.token, TLS: tc, InsecurePlaintext: o.insecurePlaintext,
		Dir: o.spool, MaxSpoolBytes: o.spoolMax, Dict: dict})
	if err != nil {
		return nil, err
	}
	// The capture point: its name, and its addresses for the packet
	// records' tap sides (c, s, local, rest; eBPF records are c-p/s-p).
	agentID := o.agentID
	if agentID == "" {
		agentID, _ = os.Hostname()
	}
	local, err := encoding.LocalAddrs()
	if err != nil {
		snd.Close()
		return nil, err
	}
	enc, err := encoding.NewEncoder(&encoding.EncoderConfig{Dict: dict, AgentID: agentID, LocalAddr: local, TagSetIDs: true, Compression: encoding.CompressS2})
	if err != nil {
		snd.Close()
		return nil, err
	}
	cfg.Sinks = append(cfg.Sinks, pipeline.SinkConfig{Sink: encoding.NewSink(enc, 0, snd.Send)})
	return &serverHook{opts: o, stderr: stderr, snd: snd}, nil
}

// finish waits for the acknowledgements (up to -server-wait) and stops the
// sender; what is left stays in the spool.
func (h *serverHook) finish(err error) error {
	if h == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.wait)
	defer cancel()
	ferr := h.snd.Flush(ctx)
	h.snd.Close()
	st := h.snd.Stats()
	if st.Dropped > 0 || st.Refused > 0 {
		fmt.Fprintf(h.stderr, "agent: server: %d batches dropped (spool full), %d refused\n", st.Dropped, st.Refused)
	}
	if ferr != nil && err == nil {
		if last := h.snd.LastError(); last != nil {
			ferr = fmt.Errorf("%w (last error: %v)", ferr, last)
		}
		err = ferr
	}
	return err
}
