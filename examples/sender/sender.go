package sender

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/metaflow-go/metaflow/encoding"
)

// Path is the server's batch endpoint, appended to Config.URL.
const Path = "/api/v1/batches"

// Config configures a Sender. The zero value of a field means its default.
type Config struct {
	// URL is the server's base URL ("http://127.0.0.1:26701" or
	// "https://collector.example:26700"). Required.
	URL string
	// Token is sent as "Authorization: Bearer <Token>" when set. New
	// refuses to send it in plaintext (an http:// URL) to a host that is
	// not loopback unless InsecurePlaintext is set (ErrPlaintext).
	Token string
	// TLS configures the default client's TLS for an https:// URL: the
	// CAs it trusts and the server name it checks (see TLSConfig).
	// Default nil: the system's roots and the URL's host. Ignored when
	// Client is set (configure its transport instead); an error with an
	// http:// URL.
	TLS *tls.Config
	// InsecurePlaintext allows Token over http:// to a host that is not
	// loopback. Default false.
	InsecurePlaintext bool
	// Dir is the spool directory (created when missing). Default "": a
	// spool in memory, lost with the process.
	Dir string
	// MaxSpoolBytes bounds the spool. Default 256 MiB.
	MaxSpoolBytes int64
	// Dict learns the server's acknowledgements. Default nil: deltas are
	// not applied (the encoder then always sends strings).
	Dict *encoding.AgentDict
	// Client posts the batches. Default: an http.Client with a 30 s timeout.
	Client *http.Client
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// batch. Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// NoSync skips fsync of spool files. Default false: a batch is on disk
	// before Send returns.
	NoSync bool
}

// Defaults.
const (
	DefaultMaxSpoolBytes = 256 << 20
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
)

// ErrPlaintext is returned by New for a token sent over http:// to a host
// that is not loopback without Config.InsecurePlaintext.
var ErrPlaintext = errors.New("sender: refusing to send the token in plaintext (http://) to a host that is not loopback: use https:// or allow it explicitly")

// TLSConfig returns the TLS configuration of a client that trusts the
// PEM certificates of caFile (default "": the system's roots) and checks
// the server's certificate against serverName (default "": the URL's
// host). It returns nil, nil when both are empty.
func TLSConfig(caFile, serverName string) (*tls.Config, error) {
	if caFile == "" && serverName == "" {
		return nil, nil
	}
	c := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("sender: CA file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sender: CA file %s: no PEM certificate in it", caFile)
		}
	}
	return c, nil
}

// checkURL validates the scheme of raw and the plaintext rule.
func checkURL(cfg *Config) error {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return fmt.Errorf("sender: server URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
	default:
		return fmt.Errorf("sender: server URL %q: want http:// or https://", cfg.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("sender: server URL %q has no host", cfg.URL)
	}
	if cfg.TLS != nil {
		return fmt.Errorf("sender: TLS configured for a plaintext URL %q: use https://", cfg.URL)
	}
	if cfg.Token != "" && !cfg.InsecurePlaintext && !loopback(u.Hostname()) {
		return fmt.Errorf("%w (%s)", ErrPlaintext, u.Host)
	}
	return nil
}

// loopback reports whether host is "localhost" or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsError makes a certificate the client does not trust say so.
func tlsError(err error) error {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &he):
		return fmt.Errorf("sender: the server's TLS certificate is for another name (set the server name?): %w", err)
	case errors.As(err, &ci):
		return fmt.Errorf("sender: the server's TLS certificate is invalid: %w", err)
	case errors.As(err, &ua), errors.As(err, &ve):
		return fmt.Errorf("sender: the server's TLS certificate is not trusted (wrong or missing CA file?): %w", err)
	}
	return err
}

// Stats counts a Sender's work.
type Stats struct {
	Batches      uint64 // frames handed to Send
	Acked        uint64 // batches acknowledged (and removed from the spool)
	Duplicates   uint64 // of which the server had stored before
	Retries      uint64 // failed attempts that were retried
	Dropped      uint64 // batches dropped because the spool was full
	DroppedBytes uint64
	Refused      uint64 // batches the server refused for good (400, 409, 413)
	Resyncs      uint64 // deltas that made the dictionary start again
	Recovered    uint64 // batches found in the spool at start
	Pending      int    // batches in the spool
	PendingBytes int64
}

type item struct {
	id   string
	size int64
	data []byte // memory spool; nil with a directory
}

// Sender spools and sends batches. It is safe for concurrent use.
type Sender struct {
	cfg    Config
	prefix string

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*item
	bytes    int64
	seq      uint64
	inflight *item
	stats    Stats
	closed   bool
	lastErr  error

	stop context.CancelFunc
	ctx  context.Context
	done chan struct{}
}

const ext = ".mfb"

// New returns a Sender and starts its goroutine; batches left in
// cfg.Dir by a previous run are sent first.
func New(cfg Config) (*Sender, error) {
	if cfg.URL == "" {
		return nil, errors.New("sender: no server URL")
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if err := checkURL(&cfg); err != nil {
		return nil, err
	}
	if cfg.MaxSpoolBytes <= 0 {
		cfg.MaxSpoolBytes = DefaultMaxSpoolBytes
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
		if cfg.TLS != nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = cfg.TLS.Clone()
			cfg.Client.Transport = tr
		}
	}
	var rb [6]byte
	rand.Read(rb[:])
	s := &Sender{cfg: cfg, prefix: hex.EncodeToString(rb[:]), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	if cfg.Dir != "" {
		if err := s.recover(); err != nil {
			return nil, err
		}
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	go s.loop()
	return s, nil
}

// recover loads the spool directory: files "<seq>-<prefix>.mfb", sent in
// order of seq.
func (s *Sender) recover() error {
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("sender: spool: %w", err)
	}
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("sender: spool: %w", err)
	}
	type found struct {
		seq uint64
		it  *item
	}
	var fs []found
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(s.cfg.Dir, name)) // a write that did not finish
			continue
		}
		id, ok := strings.CutSuffix(name, ext)
		if !ok {
			continue
		}
		seqStr, _, _ := strings.Cut(id, "-")
		seq, err := strconv.ParseUint(seqStr, 16, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		fs = append(fs, found{seq, &item{id: id, size: info.Size()}})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].seq < fs[j].seq })
	for _, f := range fs {
		s.queue = append(s.queue, f.it)
		s.bytes += f.it.size
		s.seq = max(s.seq, f.seq)
	}
	s.stats.Recovered = uint64(len(fs))
	return nil
}

func (s *Sender) path(id string) string { return filepath.Join(s.cfg.Dir, id+ext) }

// Send spools a copy of frame under a new batch id. It returns an error
// only when the spool cannot be written (or the Sender is closed).
func (s *Sender) Send(frame []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("sender: closed")
	}
	s.seq++
	it := &item{id: fmt.Sprintf("%016x-%s", s.seq, s.prefix), size: int64(len(frame))}
	s.mu.Unlock()
	if s.cfg.Dir == "" {
		it.data = bytes.Clone(frame)
	} else if err := s.write(it.id, frame); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Batches++
	s.queue = append(s.queue, it)
	s.bytes += it.size
	for s.bytes > s.cfg.MaxSpoolBytes && len(s.queue) > 1 {
		old := s.queue[0]
		if old == s.inflight {
			if len(s.queue) < 3 {
				break
			}
			old = s.queue[1]
			s.queue = append(s.queue[:1], s.queue[2:]...)
		} else {
			s.queue = s.queue[1:]
		}
		s.bytes -= old.size
		s.stats.Dropped++
		s.stats.DroppedBytes += uint64(old.size)
		if s.cfg.Dir != "" {
			os.Remove(s.path(old.id))
		}
	}
	s.cond.Broadcast()
	return nil
}

func (s *Sender) write(id string, frame []byte) error {
	tmp := s.path(id) + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("sender: spool: %w", err)
	}
	_, err = f.Write(frame)
	if err == nil && !s.cfg.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(id))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sender: spool: %w", err)
	}
	return nil
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Pending, st.PendingBytes = len(s.queue), s.bytes
	return st
}

// LastError returns the error of the last failed attempt, nil after a
// success.
func (s *Sender) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *Sender) loop() {
	defer close(s.done)
	backoff := time.Duration(0)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && s.ctx.Err() == nil {
			s.cond.Wait()
		}
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			return
		}
		it := s.queue[0]
		s.inflight = it
		s.mu.Unlock()

		outcome, err := s.post(it)
		s.mu.Lock()
		s.inflight = nil
		if s.ctx.Err() == nil || outcome != retry {
			s.lastErr = err // not the cancellation of Close: keep the error before it
		}
		switch outcome {
		case acked, refused:
			if len(s.queue) > 0 && s.queue[0] == it {
				s.queue = s.queue[1:]
				s.bytes -= it.size
			}
			if s.cfg.Dir != "" {
				os.Remove(s.path(it.id))
			}
			backoff = 0
			s.cond.Broadcast()
			s.mu.Unlock()
			continue
		}
		s.stats.Retries++
		s.mu.Unlock()
		if backoff == 0 {
			backoff = s.cfg.MinBackoff
		} else {
			backoff = min(2*backoff, s.cfg.MaxBackoff)
		}
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
	}
}

type outcome int

const (
	retry outcome = iota
	acked
	refused
)

func (s *Sender) post(it *item) (outcome, error) {
	data := it.data
	if data == nil {
		var err error
		if data, err = os.ReadFile(s.path(it.id)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return refused, err // dropped while we waited
			}
			return retry, err
		}
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.URL+Path, bytes.NewReader(data))
	if err != nil {
		return retry, err
	}
	req.Header.Set("Content-Type", "application/x-metaflow-batch")
	req.Header.Set("X-Batch-ID", it.id)
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return retry, tlsError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, encoding.MaxDeltaSize))
	if err != nil {
		return retry, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		s.apply(body)
		s.mu.Lock()
		s.stats.Acked++
		if resp.Header.Get("X-Duplicate") == "true" {
			s.stats.Duplicates++
		}
		s.mu.Unlock()
		return acked, nil
	case resp.StatusCode == http.StatusConflict:
		s.apply(body)
		s.mu.Lock()
		s.stats.Refused++
		s.mu.Unlock()
		return refused, fmt.Errorf("sender: batch %s: server asks for a resync", it.id)
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		s.mu.Lock()
		s.stats.Refused++
		s.mu.Unlock()
		return refused, fmt.Errorf("sender: batch %s refused: %s: %s", it.id, resp.Status, strings.TrimSpace(string(body)))
	default:
		return retry, fmt.Errorf("sender: batch %s: %s: %s", it.id, resp.Status, strings.TrimSpace(string(body)))
	}
}

// apply applies an acknowledgement's delta; one the dictionary cannot
// follow makes it start again (the next batch asks from version 0).
func (s *Sender) apply(body []byte) {
	if s.cfg.Dict == nil || len(body) == 0 {
		return
	}
	var d encoding.Delta
	if _, err := encoding.ParseDelta(body, &d); err != nil {
		return
	}
	if err := s.cfg.Dict.Apply(&d); err != nil {
		s.cfg.Dict.Reset()
		s.mu.Lock()
		s.stats.Resyncs++
		s.mu.Unlock()
	}
}

// Flush waits until every spooled batch is acknowledged (or refused), or
// ctx ends.
func (s *Sender) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && ctx.Err() == nil {
		s.cond.Wait()
	}
	if len(s.queue) > 0 {
		return fmt.Errorf("sender: %d batches not acknowledged (kept in the spool): %w", len(s.queue), ctx.Err())
	}
	return nil
}

// Close stops sending; batches not yet acknowledged stay in the spool
// directory for the next run.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.stop()
	s.cond.Broadcast()
	s.mu.Unlock()
	<-s.done
	return nil
}
