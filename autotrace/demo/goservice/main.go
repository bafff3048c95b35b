package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goservice api|dns|load [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "api":
		err = runAPI(ctx, os.Args[2:])
	case "dns":
		err = runDNS(ctx, os.Args[2:])
	case "load":
		err = runLoad(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown role %q (want api, dns or load)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "goservice:", err)
		os.Exit(1)
	}
}

// truth is one ground-truth line; the same shape as demo.Truth (kept
// separate so this command imports nothing of the module).
type truth struct {
	Service    string `json:"service"`
	Kind       string `json:"kind"`
	PID        int    `json:"pid"`
	ID         string `json:"id"`
	Protocol   string `json:"protocol,omitempty"`
	Local      string `json:"local,omitempty"`
	Remote     string `json:"remote,omitempty"`
	Start      string `json:"start,omitempty"`
	End        string `json:"end,omitempty"`
	Request    string `json:"request,omitempty"`
	Status     int    `json:"status,omitempty"`
	XRequestID string `json:"x_request_id,omitempty"`
	Calls      []call `json:"calls"`
}

type call struct {
	Protocol  string `json:"protocol"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Request   string `json:"request"`
	Goroutine string `json:"goroutine,omitempty"`
	Error     string `json:"error,omitempty"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// truthLog writes ground-truth lines, one Write per line, from any goroutine.
type truthLog struct {
	mu sync.Mutex
	f  *os.File
}

func openTruth(path string) (*truthLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &truthLog{f: f}, nil
}

func (l *truthLog) write(t *truth) {
	if t.Calls == nil {
		t.Calls = []call{}
	}
	b, err := json.Marshal(t)
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	l.f.Write(b)
	l.mu.Unlock()
}

// ---- api ----

func runAPI(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	listen := fs.String("listen", "0.0.0.0:8080", "listen `address`")
	redisAddr := fs.String("redis", "", "Redis server `address`")
	mysqlAddr := fs.String("mysql", "", "MariaDB server `address`")
	truthPath := fs.String("truth", "", "ground-truth `file` (JSON Lines)")
	dnsAddr := fs.String("dns", "", "resolve cache.mfat. at this DNS server `address` on every request (the Go resolver); empty: no lookup")
	otelPath := fs.String("otel", "", "also write OpenTelemetry spans to this `file` (OTLP/JSON, a request a line)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tl, err := openTruth(*truthPath)
	if err != nil {
		return err
	}
	var ol *truthLog
	if *otelPath != "" {
		if ol, err = openTruth(*otelPath); err != nil {
			return err
		}
	}
	a := &api{
		redis: &pool{proto: "Redis", addr: *redisAddr, dial: dialRedis},
		mysql: &pool{proto: "MySQL", addr: *mysqlAddr, dial: dialMySQL},
		log:   tl,
		otel:  ol,
		pid:   os.Getpid(),
	}
	if *dnsAddr != "" {
		a.resolver = newResolver(*dnsAddr)
	}
	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type api struct {
	redis, mysql *pool
	log          *truthLog
	otel         *truthLog // nil: no spans
	resolver     *net.Resolver
	pid          int
	seq          atomic.Uint64
}

// ServeHTTP answers GET /item?id=N: GET item:N from Redis and a SELECT in
// two goroutines, then INCR hits:N in the handler's goroutine.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t := &truth{Service: "go", Kind: "goroutines", PID: a.pid, Protocol: "HTTP",
		ID: "go-" + strconv.FormatUint(a.seq.Add(1), 10), Remote: r.RemoteAddr,
		Request: r.Method + " " + r.URL.RequestURI(), XRequestID: r.Header.Get("X-Request-ID")}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		t.Local = la.String()
	}
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	var dnsCalls []call
	if a.resolver != nil {
		// The Go resolver runs the query in a goroutine of its own
		// (singleflight), which the Dial hook below attributes to this
		// request through the context; a request that joined another's
		// lookup of the same name makes no query of its own.
		dc := &dnsCalls
		var mu sync.Mutex
		ctx := context.WithValue(r.Context(), dnsKey{}, &dnsSink{mu: &mu, calls: dc})
		if _, err := a.resolver.LookupNetIP(ctx, "ip4", "cache.mfat."); err != nil {
			mu.Lock()
			dnsCalls = append(dnsCalls, call{Protocol: "DNS", Request: "A cache.mfat.", Goroutine: "resolver", Error: err.Error(),
				Start: ts(time.Now()), End: ts(time.Now())})
			mu.Unlock()
		}
		mu.Lock()
		dnsCalls = append([]call(nil), dnsCalls...)
		mu.Unlock()
	}
	var (
		wg                  sync.WaitGroup
		redisCalls, myCalls []call
		val, row            string
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		redisCalls, val = a.redis.do("child", func(c *conn) (string, string, error) {
			return redisDo(c, "GET", "item:"+strconv.Itoa(id))
		})
	}()
	go func() {
		defer wg.Done()
		myCalls, row = a.mysql.do("child", func(c *conn) (string, string, error) {
			q := "SELECT name, price FROM items WHERE id = " + strconv.Itoa(id%100)
			res, err := mysqlQuery(c, q)
			return q, res, err
		})
	}()
	wg.Wait()
	incr, hits := a.redis.do("handler", func(c *conn) (string, string, error) {
		return redisDo(c, "INCR", "hits:"+strconv.Itoa(id))
	})
	t.Calls = append(append(append(dnsCalls, redisCalls...), myCalls...), incr...)
	status := http.StatusOK
	for _, c := range t.Calls {
		if c.Error != "" {
			status = http.StatusBadGateway
		}
	}
	body := fmt.Sprintf("{\"id\":%d,\"cached\":%q,\"row\":%q,\"hits\":%q}\n", id, val, row, hits)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
	w.(http.Flusher).Flush()
	t.Status = status
	t.Start, t.End = ts(start), ts(time.Now())
	a.log.write(t)
	if a.otel != nil {
		a.otel.writeLine(otelSpans(t, r.Header.Get("traceparent")))
	}
}

// dnsKey carries a request's *dnsSink to the resolver's Dial hook.
type dnsKey struct{}

// dnsSink collects the DNS exchanges made for one request.
type dnsSink struct {
	mu    *sync.Mutex
	calls *[]call
}

// newResolver returns a pure-Go resolver that sends every query to addr
// over UDP, each exchange logged (dnsConn) to the request whose context
// dialed it.
func newResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp4", addr)
		if err != nil {
			return nil, err
		}
		sink, _ := ctx.Value(dnsKey{}).(*dnsSink)
		// A *net.UDPConn inside, so the wrapper is a net.PacketConn: the
		// resolver frames DNS over TCP for any other conn.
		return &dnsConn{UDPConn: c.(*net.UDPConn), sink: sink}, nil
	}}
}

// dnsConn times one resolver exchange: from the first write to the last
// read; Close reports it to the request's sink.
type dnsConn struct {
	*net.UDPConn
	sink       *dnsSink
	start, end time.Time
	name       string
	once       sync.Once
}

func (c *dnsConn) Write(b []byte) (int, error) {
	if c.start.IsZero() {
		c.start = time.Now()
		if _, n, qt, ok := dnsAnswer(b, net.IPv4zero); ok {
			c.name = qt + " " + n
		}
	}
	return c.UDPConn.Write(b)
}

func (c *dnsConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	if n > 0 {
		c.end = time.Now()
	}
	return n, err
}

func (c *dnsConn) Close() error {
	err := c.UDPConn.Close()
	c.once.Do(func() {
		if c.sink == nil || c.start.IsZero() {
			return
		}
		k := call{Protocol: "DNS", Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String(),
			Start: ts(c.start), End: ts(c.end), Request: c.name, Goroutine: "resolver"}
		if c.end.IsZero() {
			k.End, k.Error = ts(time.Now()), "no answer"
		}
		c.sink.mu.Lock()
		*c.sink.calls = append(*c.sink.calls, k)
		c.sink.mu.Unlock()
	})
	return err
}

// conn is one pooled client connection.
type conn struct {
	c             net.Conn
	r             *bufio.Reader
	local, remote string
}

// pool hands out idle connections, dialing when none is idle.
type pool struct {
	proto string // Redis or MySQL
	addr  string
	dial  func(addr string) (*conn, error)
	mu    sync.Mutex
	idle  []*conn
}

func (p *pool) get() (c *conn, login *call, err error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil, nil
	}
	p.mu.Unlock()
	start := time.Now()
	c, err = p.dial(p.addr)
	if err != nil || p.proto != "MySQL" {
		return c, nil, err
	}
	// The MySQL login is an exchange of its own (greeting, login, OK).
	return c, &call{Protocol: p.proto, Local: c.local, Remote: c.remote, Start: ts(start), End: ts(time.Now()), Request: "login"}, nil
}

func (p *pool) put(c *conn) {
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// do runs fn on a pooled connection and returns the calls' ground truth:
// the login when it had to dial a MySQL connection, then the call. A
// connection that fails is closed, not pooled.
func (p *pool) do(who string, fn func(c *conn) (req, res string, err error)) ([]call, string) {
	start := time.Now()
	c, login, err := p.get()
	if err != nil {
		return []call{{Protocol: p.proto, Remote: p.addr, Start: ts(start), End: ts(time.Now()), Goroutine: who, Error: err.Error()}}, ""
	}
	var calls []call
	if login != nil {
		login.Goroutine = who
		calls = append(calls, *login)
	}
	start = time.Now()
	req, res, err := fn(c)
	end := time.Now()
	k := call{Protocol: p.proto, Local: c.local, Remote: c.remote, Start: ts(start), End: ts(end), Request: req, Goroutine: who}
	if err != nil {
		k.Error = err.Error()
		c.c.Close()
	} else {
		p.put(c)
	}
	return append(calls, k), res
}

func newConn(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReader(c), local: c.LocalAddr().String(), remote: c.RemoteAddr().String()}, nil
}

func dialRedis(addr string) (*conn, error) { return newConn(addr) }

// redisDo sends one command in RESP and reads one reply.
func redisDo(c *conn, args ...string) (string, string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	req := strings.Join(args, " ")
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return req, "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return req, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return req, "", errors.New("redis: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return req, line[1:], nil
	case '-':
		return req, "", errors.New("redis: " + line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return req, "", fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n < 0 {
			return req, "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return req, "", err
		}
		return req, string(buf[:n]), nil
	}
	return req, "", fmt.Errorf("redis: unexpected reply %q", line)
}

// dialMySQL connects and logs in (the demo's MariaDB runs with
// --skip-grant-tables, so an empty password is accepted), selecting the
// demo database.
func dialMySQL(addr string) (*conn, error) {
	c, err := newConn(addr)
	if err != nil {
		return nil, err
	}
	if err := mysqlLogin(c, "demo"); err != nil {
		c.c.Close()
		return nil, fmt.Errorf("mysql login: %w", err)
	}
	return c, nil
}

func mysqlRead(c *conn) ([]byte, byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, 0, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	p := make([]byte, n)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return nil, 0, err
	}
	return p, h[3], nil
}

func mysqlWrite(c *conn, seq byte, p []byte) error {
	h := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}
	_, err := c.c.Write(append(h, p...))
	return err
}

func mysqlErr(p []byte) error {
	if len(p) >= 3 {
		code := binary.LittleEndian.Uint16(p[1:3])
		msg := p[3:]
		if len(msg) > 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		return fmt.Errorf("mysql error %d: %s", code, msg)
	}
	return errors.New("mysql: short error packet")
}

func mysqlLogin(c *conn, db string) error {
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	greet, seq, err := mysqlRead(c)
	if err != nil {
		return err
	}
	if len(greet) == 0 || greet[0] == 0xff {
		return mysqlErr(greet)
	}
	const (
		longPassword    = 1 << 0
		connectWithDB   = 1 << 3
		protocol41      = 1 << 9
		transactions    = 1 << 13
		secureConn      = 1 << 15
		pluginAuth      = 1 << 19
		clientCapsFlags = longPassword | connectWithDB | protocol41 | transactions | secureConn | pluginAuth
	)
	var p []byte
	p = binary.LittleEndian.AppendUint32(p, clientCapsFlags)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 33) // utf8_general_ci
	p = append(p, make([]byte, 23)...)
	p = append(p, "demo\x00"...)
	p = append(p, 0) // empty auth response
	p = append(p, db+"\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	if err := mysqlWrite(c, seq+1, p); err != nil {
		return err
	}
	for range 3 {
		r, seq, err := mysqlRead(c)
		if err != nil {
			return err
		}
		switch {
		case len(r) == 0:
			return errors.New("mysql: empty reply to login")
		case r[0] == 0x00:
			return nil
		case r[0] == 0xff:
			return mysqlErr(r)
		case r[0] == 0xfe: // auth switch: answer with an empty password
			if err := mysqlWrite(c, seq+1, nil); err != nil {
				return err
			}
		default:
			return fmt.Errorf("mysql: unexpected login reply 0x%02x", r[0])
		}
	}
	return errors.New("mysql: login did not finish")
}

// mysqlQuery runs one COM_QUERY and returns the first column of the first
// row (or the OK packet's affected rows).
func mysqlQuery(c *conn, q string) (string, error) {
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := mysqlWrite(c, 0, append([]byte{0x03}, q...)); err != nil {
		return "", err
	}
	p, _, err := mysqlRead(c)
	if err != nil {
		return "", err
	}
	switch {
	case len(p) == 0:
		return "", errors.New("mysql: empty result")
	case p[0] == 0x00:
		return "ok", nil
	case p[0] == 0xff:
		return "", mysqlErr(p)
	}
	// Column definitions until EOF, then rows until EOF.
	first := ""
	for eofs := 0; eofs < 2; {
		p, _, err := mysqlRead(c)
		if err != nil {
			return "", err
		}
		switch {
		case len(p) > 0 && p[0] == 0xff:
			return "", mysqlErr(p)
		case len(p) > 0 && p[0] == 0xfe && len(p) < 9:
			eofs++
		case eofs == 1 && first == "" && len(p) > 1 && p[0] < 251:
			n := int(p[0])
			if 1+n <= len(p) {
				first = string(p[1 : 1+n])
			}
		}
	}
	return first, nil
}

func (l *truthLog) writeLine(b []byte) {
	b = append(b, '\n')
	l.mu.Lock()
	l.f.Write(b)
	l.mu.Unlock()
}

// ---- OpenTelemetry spans ----

// otelSpans renders what an OpenTelemetry-instrumented handler would
// export for t, as one OTLP/JSON ExportTraceServiceRequest: a SERVER span
// for the request (the child of traceparent's span when the caller sent
// one, else a new trace's root) and a CLIENT span per call, with the
// semantic conventions' network attributes (so spans can be matched to
// sockets). No call carries a trace header: Redis and MySQL have none.
func otelSpans(t *truth, traceparent string) []byte {
	traceID, parent := "", ""
	if p := strings.Split(traceparent, "-"); len(p) == 4 && len(p[1]) == 32 && len(p[2]) == 16 {
		traceID, parent = p[1], p[2]
	} else {
		traceID = randHex(16)
	}
	server := randHex(8)
	type kv = map[string]any
	str := func(k, v string) kv { return kv{"key": k, "value": kv{"stringValue": v}} }
	num := func(k string, v int) kv { return kv{"key": k, "value": kv{"intValue": strconv.Itoa(v)}} }
	sock := func(local, remote string) []kv {
		var out []kv
		if h, p, err := net.SplitHostPort(local); err == nil {
			n, _ := strconv.Atoi(p)
			out = append(out, str("network.local.address", h), num("network.local.port", n))
		}
		if h, p, err := net.SplitHostPort(remote); err == nil {
			n, _ := strconv.Atoi(p)
			out = append(out, str("network.peer.address", h), num("network.peer.port", n))
		}
		return out
	}
	nanos := func(s string) string {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "0"
		}
		return strconv.FormatInt(tm.UnixNano(), 10)
	}
	method, target, _ := strings.Cut(t.Request, " ")
	path, _, _ := strings.Cut(target, "?")
	srvAttrs := append([]kv{str("http.request.method", method), str("url.path", path), num("http.response.status_code", t.Status)},
		sock(t.Local, t.Remote)...)
	spans := []kv{{"traceId": traceID, "spanId": server, "parentSpanId": parent, "name": method + " " + path, "kind": 2,
		"startTimeUnixNano": nanos(t.Start), "endTimeUnixNano": nanos(t.End), "attributes": srvAttrs}}
	for _, c := range t.Calls {
		system, op := "redis", c.Request
		if c.Protocol == "MySQL" {
			system = "mysql"
		}
		if i := strings.IndexByte(op, ' '); i > 0 {
			op = op[:i]
		}
		attrs := []kv{str("db.system", system), str("db.statement", c.Request)}
		if c.Protocol == "DNS" {
			_, name, _ := strings.Cut(c.Request, " ")
			attrs = []kv{str("dns.question.name", name)}
		}
		attrs = append(attrs, sock(c.Local, c.Remote)...)
		sp := kv{"traceId": traceID, "spanId": randHex(8), "parentSpanId": server, "name": op, "kind": 3,
			"startTimeUnixNano": nanos(c.Start), "endTimeUnixNano": nanos(c.End), "attributes": attrs}
		if c.Error != "" {
			sp["status"] = kv{"code": 2, "message": c.Error}
		}
		spans = append(spans, sp)
	}
	req := kv{"resourceSpans": []kv{{
		"resource":   kv{"attributes": []kv{str("service.name", "go"), num("process.pid", t.PID)}},
		"scopeSpans": []kv{{"scope": kv{"name": "autotrace/demo/goservice"}, "spans": spans}},
	}}}
	b, _ := json.Marshal(req)
	return b
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- dns ----

func runDNS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	listen := fs.String("listen", "0.0.0.0:53", "listen `addresses` (UDP, comma-separated: one socket each)")
	answer := fs.String("answer", "127.0.0.1", "IPv4 `address` every A query gets")
	truthPath := fs.String("truth", "", "ground-truth `file` (JSON Lines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ip := net.ParseIP(*answer).To4()
	if ip == nil {
		return fmt.Errorf("-answer %q is not an IPv4 address", *answer)
	}
	tl, err := openTruth(*truthPath)
	if err != nil {
		return err
	}
	var pcs []net.PacketConn
	for _, a := range strings.Split(*listen, ",") {
		pc, err := net.ListenPacket("udp4", a)
		if err != nil {
			return err
		}
		pcs = append(pcs, pc)
	}
	go func() {
		<-ctx.Done()
		for _, pc := range pcs {
			pc.Close()
		}
	}()
	var seq atomic.Uint64
	errs := make(chan error, len(pcs))
	for _, pc := range pcs {
		go func() { errs <- serveDNS(ctx, pc, ip, tl, &seq) }()
	}
	for range pcs {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func serveDNS(ctx context.Context, pc net.PacketConn, ip net.IP, tl *truthLog, seq *atomic.Uint64) error {
	local := pc.LocalAddr().String()
	pid := os.Getpid()
	buf := make([]byte, 1500)
	for {
		m, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		start := time.Now()
		resp, name, qtype, ok := dnsAnswer(buf[:m], ip)
		if !ok {
			continue
		}
		pc.WriteTo(resp, from)
		tl.write(&truth{Service: "dns", Kind: "dns-server", PID: pid, ID: "dns-" + strconv.FormatUint(seq.Add(1), 10),
			Protocol: "DNS", Local: local, Remote: from.String(), Start: ts(start), End: ts(time.Now()),
			Request: qtype + " " + name})
	}
}

// dnsAnswer builds the response to a one-question query: one A record for
// A queries, no answer (NOERROR) for others.
func dnsAnswer(q []byte, ip net.IP) (resp []byte, name, qtype string, ok bool) {
	if len(q) < 12 || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil, "", "", false
	}
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil, "", "", false
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil, "", "", false
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil, "", "", false
	}
	t := binary.BigEndian.Uint16(q[i : i+2])
	qend := i + 4
	resp = append(resp, q[:qend]...)
	resp[2] = 0x84 | q[2]&0x01 // QR, AA, RD copied
	resp[3] = 0x80             // RA, NOERROR
	binary.BigEndian.PutUint16(resp[8:10], 0)
	binary.BigEndian.PutUint16(resp[10:12], 0)
	qtype = "TYPE" + strconv.Itoa(int(t))
	if t == 1 {
		qtype = "A"
		binary.BigEndian.PutUint16(resp[6:8], 1)
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4)
		resp = append(resp, ip...)
	} else {
		binary.BigEndian.PutUint16(resp[6:8], 0)
	}
	return resp, strings.Join(labels, ".") + ".", qtype, true
}

// ---- load ----

func runLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	url := fs.String("url", "", "`URL` to GET (a query id=N&c=CLIENT&n=SEQ is added)")
	clients := fs.Int("clients", 1, "concurrent `clients`, each on its own keep-alive connection")
	dur := fs.Duration("duration", 10*time.Second, "how long to send requests")
	rate := fs.Float64("rate", 0, "at most this many requests a `second` per client (0: no limit)")
	maxReq := fs.Int64("max", 0, "stop after this many `requests` in all (0: no limit)")
	goFile := fs.String("go", "", "wait until this `file` exists before sending (at most a minute)")
	truthPath := fs.String("truth", "", "ground-truth `file` (JSON Lines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *clients < 1 {
		return errors.New("load needs -url and -clients >= 1")
	}
	tl, err := openTruth(*truthPath)
	if err != nil {
		return err
	}
	if *goFile != "" {
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(*goFile); err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s did not appear", *goFile)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	pid := os.Getpid()
	var ok, failed, sent atomic.Int64
	var wg sync.WaitGroup
	for w := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			var tick *time.Ticker
			if *rate > 0 {
				tick = time.NewTicker(time.Duration(float64(time.Second) / *rate))
				defer tick.Stop()
			}
			for n := 0; ctx.Err() == nil; n++ {
				if *maxReq > 0 && sent.Add(1) > *maxReq {
					return
				}
				u := fmt.Sprintf("%s?id=%d&c=%d&n=%d", *url, (w*7919+n)%1000, w, n)
				var local, remote string
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
					local, remote = i.Conn.LocalAddr().String(), i.Conn.RemoteAddr().String()
				}}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", u, nil)
				if err != nil {
					return
				}
				start := time.Now()
				resp, err := cl.Do(req)
				k := call{Protocol: "HTTP", Local: local, Remote: remote, Start: ts(start), Request: "GET " + req.URL.RequestURI()}
				status := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				k.End = ts(time.Now())
				if err != nil {
					k.Error = err.Error()
					failed.Add(1)
				} else if status != http.StatusOK {
					k.Error = "status " + strconv.Itoa(status)
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				tl.write(&truth{Service: "client", Kind: "load", PID: pid, ID: fmt.Sprintf("client-%d-%d", w, n),
					Status: status, Calls: []call{k}})
				if tick != nil {
					select {
					case <-tick.C:
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("requests ok=%d failed=%d\n", ok.Load(), failed.Load())
	return nil
}
