package ingest

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/metaflow-go/metaflow/encoding"
	"github.com/metaflow-go/metaflow/examples/server/store"
)

// Path is the endpoint's path.
const Path = "/api/v1/batches"

// DeltaContentType is the Content-Type of an acknowledgement.
const DeltaContentType = "application/x-metaflow-delta"

// MaxBatchIDLen is the longest X-Batch-ID accepted.
const MaxBatchIDLen = 128

// Config configures a Handler.
type Config struct {
	Store *store.Store
	// Backend, when set, is the store batches go to instead of Store
	// (the ClickHouse store).
	Backend store.Backend
	// Token, when set, must come as "Authorization: Bearer <Token>".
	Token string
	// MaxBytes is the largest body accepted. Default 64 MiB (the
	// decoder's frame limit).
	MaxBytes int64
}

// Stats counts the requests of a Handler.
type Stats struct {
	Requests     uint64 `json:"requests"`
	Stored       uint64 `json:"stored"`     // batches stored
	Duplicates   uint64 `json:"duplicates"` // batches acknowledged again
	Rows         uint64 `json:"rows"`       // rows stored
	Unauthorized uint64 `json:"unauthorized"`
	BadRequest   uint64 `json:"bad_request"`
	TooLarge     uint64 `json:"too_large"`
	Resync       uint64 `json:"resync"`
	Failed       uint64 `json:"failed"` // store errors (500)
}

// Handler serves Path.
type Handler struct {
	cfg   Config
	dec   *encoding.Decoder
	pool  sync.Pool
	stats struct {
		requests, stored, dups, rows, unauth, bad, large, resync, failed atomic.Uint64
	}
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Backend == nil && cfg.Store != nil {
		cfg.Backend = cfg.Store
	}
	if cfg.Backend == nil {
		return nil, errors.New("ingest: no store")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = encoding.DefaultMaxFrameSize
	}
	dec, err := encoding.NewDecoder(&encoding.DecoderConfig{MaxFrameSize: int(cfg.MaxBytes)})
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, dec: dec}
	h.pool.New = func() any { return new(encoding.Batch) }
	return h, nil
}

// Stats returns the handler's counters.
func (h *Handler) Stats() Stats {
	s := &h.stats
	return Stats{
		Requests: s.requests.Load(), Stored: s.stored.Load(), Duplicates: s.dups.Load(), Rows: s.rows.Load(),
		Unauthorized: s.unauth.Load(), BadRequest: s.bad.Load(), TooLarge: s.large.Load(),
		Resync: s.resync.Load(), Failed: s.failed.Load(),
	}
}

// Authorized reports whether r carries the token (always, without one).
func Authorized(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func validID(id string) bool {
	if id == "" || len(id) > MaxBatchIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func (h *Handler) fail(w http.ResponseWriter, code int, c *atomic.Uint64, format string, args ...any) {
	c.Add(1)
	http.Error(w, fmt.Sprintf(format, args...), code)
}

// ServeHTTP handles one batch.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := &h.stats
	s.requests.Add(1)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, &s.bad, "ingest: %s not allowed, POST a batch", r.Method)
		return
	}
	if !Authorized(r, h.cfg.Token) {
		h.fail(w, http.StatusUnauthorized, &s.unauth, "ingest: missing or wrong bearer token")
		return
	}
	id := r.Header.Get("X-Batch-ID")
	if !validID(id) {
		h.fail(w, http.StatusBadRequest, &s.bad, "ingest: X-Batch-ID must be 1 to %d printable ASCII characters", MaxBatchIDLen)
		return
	}
	if r.ContentLength > h.cfg.MaxBytes {
		h.fail(w, http.StatusRequestEntityTooLarge, &s.large, "ingest: body of %d bytes, limit %d", r.ContentLength, h.cfg.MaxBytes)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			h.fail(w, http.StatusRequestEntityTooLarge, &s.large, "ingest: body over the limit of %d bytes", h.cfg.MaxBytes)
			return
		}
		h.fail(w, http.StatusBadRequest, &s.bad, "ingest: reading the body: %v", err)
		return
	}
	b := h.pool.Get().(*encoding.Batch)
	defer h.pool.Put(b)
	if err := h.dec.Decode(body, b); err != nil {
		switch {
		case errors.Is(err, encoding.ErrTooLarge):
			h.fail(w, http.StatusRequestEntityTooLarge, &s.large, "ingest: batch too large: %v", err)
		case errors.Is(err, encoding.ErrVersion), errors.Is(err, encoding.ErrFlags):
			h.fail(w, http.StatusBadRequest, &s.bad, "ingest: unsupported frame version or flags: %v", err)
		default:
			h.fail(w, http.StatusBadRequest, &s.bad, "ingest: bad frame: %v", err)
		}
		return
	}
	res, err := h.cfg.Backend.Ingest(id, b)
	if err != nil {
		var re *encoding.ResyncError
		switch {
		case errors.As(err, &re), errors.Is(err, encoding.ErrUnknownID):
			s.resync.Add(1)
			ack, _ := h.cfg.Backend.Dict().Delta(0, 0)
			writeDelta(w, http.StatusConflict, ack, "")
		case errors.Is(err, store.ErrSchema), errors.Is(err, encoding.ErrTooLarge), errors.Is(err, encoding.ErrFull):
			h.fail(w, http.StatusBadRequest, &s.bad, "ingest: batch refused: %v", err)
		default:
			h.fail(w, http.StatusInternalServerError, &s.failed, "ingest: store: %v", err)
		}
		return
	}
	dup := ""
	if res.Duplicate {
		s.dups.Add(1)
		dup = "true"
	} else {
		s.stored.Add(1)
		s.rows.Add(uint64(res.L4 + res.L7))
	}
	writeDelta(w, http.StatusOK, res.Ack, dup)
}

func writeDelta(w http.ResponseWriter, code int, d *encoding.Delta, dup string) {
	body, err := d.AppendBinary(nil)
	if err != nil {
		http.Error(w, "ingest: ack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", DeltaContentType)
	if dup != "" {
		w.Header().Set("X-Duplicate", dup)
	}
	w.WriteHeader(code)
	w.Write(body)
}
