#!/usr/bin/python3
"""pyservice: the thread-per-request service of the AutoTracing demo system.

http.server.ThreadingHTTPServer (one thread per connection, so requests on a
connection are served one after the other by one thread) with Debian's
python3-redis and python3-pymysql. Each GET /order?id=N:

  1. resolves db.mfat. with a DNS query over UDP (a real lookup, sent by hand
     so that its local port is known),
  2. GET session:N from Redis (redis-py, one connection per thread),
  3. SELECT from MariaDB (PyMySQL, one connection per thread, autocommit),
  4. GET /item?id=N from the Go service (http.client, keep-alive per thread),

then answers. It writes its own ground truth: one JSON line per inbound
request with the outbound calls it made (local and remote address and port,
start and end), the thread that served it and the X-Request-ID nginx set.
Nothing is propagated downstream: the application knows no tracing.

usage: pyservice.py LISTEN_IP PORT TRUTH_FILE DNS_IP:PORT REDIS_IP:PORT MYSQL_IP:PORT GO_IP:PORT
"""

import http.client
import http.server
import json
import os
import random
import socket
import struct
import sys
import threading
import time

import pymysql
import redis

LISTEN_IP, PORT, TRUTH = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


DNS, REDIS, MYSQL, GO = (hostport(a) for a in sys.argv[4:8])
PID = os.getpid()
local = threading.local()
log_lock = threading.Lock()
log_file = open(TRUTH, "a", buffering=1)
seq_lock = threading.Lock()
seq = [0]


def ts(ns):
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%09dZ" % frac


def addr(a):
    return "%s:%d" % (a[0], a[1])


def call(proto, sock_local, sock_remote, start, end, request, error=None):
    c = {"protocol": proto, "local": sock_local, "remote": sock_remote,
         "start": ts(start), "end": ts(end), "request": request}
    if error:
        c["error"] = error
    return c


def dns_query(name):
    """One A query over UDP; returns (call, address or None)."""
    qid = random.getrandbits(16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\x00"
    q += struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.connect(DNS)
        lo = addr(s.getsockname())
        start = time.time_ns()
        s.send(q)
        try:
            r = s.recv(1500)
            err = None
        except OSError as e:
            r, err = b"", str(e)
        end = time.time_ns()
        ip = None
        if len(r) >= 16 and r[:2] == q[:2] and struct.unpack(">H", r[6:8])[0] > 0:
            ip = socket.inet_ntoa(r[-4:])
        return call("DNS", lo, addr(DNS), start, end, "A " + name, err), ip
    finally:
        s.close()


def redis_client():
    r = getattr(local, "redis", None)
    if r is None:
        r = redis.Redis(host=REDIS[0], port=REDIS[1], single_connection_client=True,
                        socket_timeout=5, socket_connect_timeout=5)
        local.redis = r
    return r


def mysql_client(calls):
    m = getattr(local, "mysql", None)
    if m is None or not m.open:
        start = time.time_ns()
        m = pymysql.connect(host=MYSQL[0], port=MYSQL[1], user="demo", password="",
                            database="demo", autocommit=True, connect_timeout=5)
        end = time.time_ns()
        calls.append(call("MySQL", addr(m._sock.getsockname()), addr(m._sock.getpeername()), start, end, "login"))
        local.mysql = m
    return m


def go_client():
    c = getattr(local, "go", None)
    if c is None:
        c = http.client.HTTPConnection(GO[0], GO[1], timeout=10)
        local.go = c
    return c


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def parse_request(self):
        # The request line has just been read: the request's start (do_GET
        # runs only after the headers are parsed).
        self.start_ns = time.time_ns()
        return super().parse_request()

    def do_GET(self):
        start = self.start_ns
        with seq_lock:
            seq[0] += 1
            n = seq[0]
        path = self.path
        item = 0
        if "id=" in path:
            try:
                item = int(path.split("id=", 1)[1].split("&", 1)[0])
            except ValueError:
                item = 0
        calls, status = [], 200
        try:
            c, ip = dns_query("db.mfat.")
            calls.append(c)
            if ip is None:
                status = 502

            r = redis_client()
            t0 = time.time_ns()
            err = None
            try:
                session = r.get("session:%d" % item)
            except redis.RedisError as e:
                err, status = str(e), 502
                local.redis = None
            t1 = time.time_ns()
            sock = r.connection._sock if r.connection is not None else None
            lo = addr(sock.getsockname()) if sock else ""
            calls.append(call("Redis", lo, addr(REDIS), t0, t1, "GET session:%d" % item, err))

            m = mysql_client(calls)
            q = "SELECT id, name, price FROM items WHERE id = %d" % (item % 100)
            t0 = time.time_ns()
            err = None
            try:
                with m.cursor() as cur:
                    cur.execute(q)
                    cur.fetchall()
            except pymysql.MySQLError as e:
                err, status = str(e), 502
            t1 = time.time_ns()
            calls.append(call("MySQL", addr(m._sock.getsockname()) if m._sock else "", addr(MYSQL), t0, t1, q, err))

            g = go_client()
            t0 = time.time_ns()
            err = None
            try:
                g.request("GET", "/item?id=%d" % item)
                lo = addr(g.sock.getsockname())
                resp = g.getresponse()
                body = resp.read()
                if resp.status != 200:
                    err, status = "status %d" % resp.status, 502
            except (OSError, http.client.HTTPException) as e:
                err, status, body = str(e), 502, b""
                lo = addr(g.sock.getsockname()) if g.sock else ""
                g.close()
            t1 = time.time_ns()
            calls.append(call("HTTP", lo, addr(GO), t0, t1, "GET /item?id=%d" % item, err))
        except Exception as e:  # noqa: BLE001 - the demo answers 500 and logs it
            status, body = 500, str(e).encode()
        out = json.dumps({"order": item, "status": status}).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        self.wfile.flush()
        end = time.time_ns()
        line = json.dumps({
            "service": "python", "kind": "thread-per-request", "pid": PID,
            "tid": threading.get_native_id(), "id": "py-%d" % n, "protocol": "HTTP",
            "local": addr(self.connection.getsockname()), "remote": addr(self.client_address),
            "start": ts(start), "end": ts(end), "request": "GET " + path, "status": status,
            "x_request_id": self.headers.get("X-Request-ID", ""), "calls": calls,
        })
        with log_lock:
            log_file.write(line + "\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    srv = Server((LISTEN_IP, PORT), Handler)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
