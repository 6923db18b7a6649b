#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The Python side of tests/e2e/test_sidecar.sh, one subcommand each:
#   app PORT           the backend: echoes, serves 10 MB, answers slowly,
#                      sets its own X-RateLimit-Limit on /own, dies
#                      mid-response on /die, answers N bytes on
#                      /bytes?n=N (and on /huge?n=N in 64 KiB writes,
#                      never held whole), takes a body without echoing it on
#                      /sink (on /slowsink?s=S only after S seconds); keeps
#                      every connection alive while idle
#   flask PORT LIMIT   the oracle: a Flask app with Debian's Flask-Limiter,
#                      LIMIT per client (the X-Client header names it),
#                      Retry-After on every response as Flask-Limiter does
#   headers FILE       one line per response of a `curl -D FILE` dump:
#                      status limit remaining reset retry-after (- if absent)
#   dates FILE         per response of such a dump: its status and "ok"
#                      for one Date field, IMF-fixdate, within 5 s of now
#   metrics FILE       Prometheus text parsed with prometheus_client: one
#                      line per sample, `name{k="v",...} value`
#   raw HOST PORT WAIT HEX  sends raw bytes, prints the first status line,
#                      whether the peer closed, how long it took and how
#                      many responses came back
#   keepalive HOST PORT N   N requests on one HTTP/1.1 connection, printing
#                      each status; before the last it prints "gap" and
#                      waits for a line on stdin (the test opens other
#                      connections meanwhile)
#   late SRC HOST PORT  opens a connection from SRC, prints "connected",
#                      and sends its first request only after a line on
#                      stdin: prints its status and X-RateLimit-Remaining
#   trickle HOST PORT HEAD BODY GAP MAX  sends the request head HEAD and
#                      then BODY one byte every GAP seconds (HEAD alone
#                      is trickled the same way when BODY is "-"), for
#                      at most MAX seconds; prints status|closed|seconds
#   hold HOST PORT N SECONDS  opens N connections (as many as it can),
#                      prints "held K", keeps them SECONDS or until stdin
#                      closes
#   uploads HOST PORT PATH N BYTES  N concurrent POSTs of BYTES each;
#                      prints one line per outcome: the status, or "error"
#   closing PORT MODE  a backend that ends every connection after one
#                      response: MODE http10 answers HTTP/1.0 (no
#                      keep-alive), close says "Connection: close", silent
#                      answers HTTP/1.1 without a word and closes anyway
#   slowread HOST PORT PATH PAUSE  GETs PATH, reads 64 KiB of the
#                      answer, prints "paused", reads nothing for PAUSE
#                      seconds, then the rest: prints the status and the
#                      body's length
#   burst HOST PORT N CONC METHODS  N requests from CONC threads, each on
#                      its own kept-alive connection, started together,
#                      request i on connection i % CONC, back to back,
#                      methods in turn from the comma list METHODS; prints
#                      one line per request: METHOD STATUS (or error)
import binascii
import calendar
import hashlib
import http.client
import http.server
import socket
import sys
import time


def cmd_app(port):
    big = bytes((i * 7 + 3) & 0xFF for i in range(256)) * (10 * 4096)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    n = int(self.rfile.readline().split(b";")[0], 16)
                    if n == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(n)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def reply(self, code, data, extra=()):
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Seen-Method", self.command)
            self.send_header("X-Seen-Path", self.path)
            self.send_header("X-Seen-XFF", self.headers.get("X-Forwarded-For", "-"))
            self.send_header("X-Seen-Custom", self.headers.get("X-Custom", "-"))
            hop = [h for h in ("Connection", "Keep-Alive", "TE", "Upgrade",
                               "Proxy-Authorization", "Transfer-Encoding")
                   if h in self.headers]
            self.send_header("X-Seen-Hop", ",".join(hop) or "-")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/big-chunked"):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(big), 65536):
                    part = big[i:i + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif self.path.startswith("/big"):
                self.reply(200, big)
            elif self.path.startswith("/slow"):
                time.sleep(float(self.path.split("=")[1]))
                self.reply(200, b"slow\n")
            elif self.path.startswith("/die"):
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif self.path.startswith("/bytes"):
                self.reply(200, b"b" * int(self.path.split("=")[1]))
            elif self.path.startswith("/huge"):
                n = int(self.path.split("=")[1])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                piece = b"h" * 65536
                while n > 0:
                    self.wfile.write(piece[:n])
                    n -= len(piece)
            elif self.path.startswith("/own"):
                self.reply(200, b"own\n", [("X-RateLimit-Limit", "999")])
            else:
                self.reply(200, b"hello\n")

        do_HEAD = do_GET
        do_DELETE = do_GET

        def do_POST(self):
            if self.path.startswith("/slowsink"):
                time.sleep(float(self.path.split("=")[1]))
            data = self.body()
            digest = hashlib.sha256(data).hexdigest()
            self.reply(201, b"" if self.path.startswith("/sink") else data,
                       [("X-Body-SHA256", digest)])

        do_PUT = do_POST
        do_PATCH = do_POST

    http.server.ThreadingHTTPServer.daemon_threads = True
    # A backlog of 5 (the default) resets connections that come in a
    # burst (the sidecar streams each request on at once, as it arrives).
    http.server.ThreadingHTTPServer.request_queue_size = 128
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), H).serve_forever()


def cmd_flask(port, limit):
    import flask
    from flask_limiter import Limiter

    app = flask.Flask("oracle")
    limiter = Limiter(lambda: flask.request.headers.get("X-Client", "none"),
                      app=app, default_limits=[limit], headers_enabled=True,
                      storage_uri="memory://")
    assert limiter

    @app.route("/", defaults={"p": ""})
    @app.route("/<path:p>")
    def index(p):
        return "hello\n"

    app.run(host="127.0.0.1", port=int(port), threaded=True)


def responses(path):
    """The responses of a `curl -D FILE` dump: a dict each, the status and
    every field by its lower-case name, a list of its values."""
    resp = None
    out = []
    for line in open(path, encoding="latin-1"):
        line = line.rstrip("\r\n")
        if line.startswith("HTTP/"):
            if line.split()[1].startswith("1"):  # 100 Continue
                resp = None
                continue
            resp = {"status": line.split()[1]}
            out.append(resp)
        elif resp is not None and ":" in line:
            k, v = line.split(":", 1)
            resp.setdefault(k.strip().lower(), []).append(v.strip())
    return out


def cmd_headers(path):
    for r in responses(path):
        f = [r["status"]]
        for h in ("x-ratelimit-limit", "x-ratelimit-remaining",
                  "x-ratelimit-reset", "retry-after"):
            f.append(",".join(r.get(h, ["-"])))
        print(" ".join(f))


def cmd_dates(path):
    """Per response, its status and "ok" when it has one Date field, in
    RFC 9110's IMF-fixdate form, within 5 s of now; else what is wrong."""
    for r in responses(path):
        dates = r.get("date", [])
        if len(dates) != 1:
            print(r["status"], "%d Date fields" % len(dates))
            continue
        try:
            t = time.strptime(dates[0], "%a, %d %b %Y %H:%M:%S GMT")
        except ValueError:
            print(r["status"], "not IMF-fixdate: %r" % dates[0])
            continue
        off = calendar.timegm(t) - time.time()
        print(r["status"], "ok" if abs(off) <= 5 else "%+.0f s off" % off)


def cmd_metrics(path):
    from prometheus_client.parser import text_string_to_metric_families
    for fam in text_string_to_metric_families(open(path).read()):
        for s in fam.samples:
            labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
            print("%s{%s} %s" % (s.name, labels, repr(float(s.value))))


def cmd_raw(host, port, wait, hexdata):
    s = socket.create_connection((host, int(port)))
    s.settimeout(float(wait))
    start = time.time()
    s.sendall(binascii.unhexlify(hexdata))
    out, closed = b"", False
    try:
        while True:
            b = s.recv(65536)
            if not b:
                closed = True
                break
            out += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    status = out.split(b"\r\n")[0].decode("latin-1") or "-"
    print("%s|%s|%.1f|%d" % (status, "closed" if closed else "open",
                             time.time() - start, out.count(b"HTTP/1.1 ")))


def cmd_keepalive(host, port, n):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    for i in range(int(n)):
        if i == int(n) - 1:
            print("gap", flush=True)
            sys.stdin.readline()
        c.request("GET", "/ka%d" % i)
        r = c.getresponse()
        r.read()
        print(r.status, r.getheader("X-RateLimit-Remaining", "-"), flush=True)


def read_answer(s, until):
    out, closed = b"", False
    while time.time() < until:
        s.settimeout(max(0.01, until - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not b:
            closed = True
            break
        out += b
    return out, closed


def cmd_trickle(host, port, head, body, gap, most):
    head = head.encode().decode("unicode_escape").encode("latin-1")
    s = socket.create_connection((host, int(port)))
    start = time.time()
    until = start + float(most)
    slow = head if body == "-" else body.encode()
    if body != "-":
        s.sendall(head)
    out, closed = b"", False
    for i in range(len(slow)):
        try:
            s.sendall(slow[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        got, closed = read_answer(s, min(until, time.time() + float(gap)))
        out += got
        if closed or got or time.time() >= until:
            break
    if not closed:  # answered or not, wait for the close
        got, closed = read_answer(s, until)
        out += got
    status = out.split(b"\r\n")[0].decode("latin-1") or "-"
    print("%s|%s|%.1f" % (status, "closed" if closed else "open",
                          time.time() - start))


def cmd_hold(host, port, n, seconds):
    import select
    conns = []
    for _ in range(int(n)):
        try:
            conns.append(socket.create_connection((host, int(port)), timeout=2))
        except OSError:
            break
    print("held %d" % len(conns), flush=True)
    select.select([sys.stdin], [], [], float(seconds))
    for c in conns:
        c.close()


def cmd_uploads(host, port, path, n, size):
    import threading
    body = b"u" * int(size)
    out = []

    def one():
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=30)
            c.request("POST", path, body=body)
            r = c.getresponse()
            r.read()
            out.append(str(r.status))
        except (OSError, http.client.HTTPException):
            out.append("error")

    ts = [threading.Thread(target=one) for _ in range(int(n))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("\n".join(out))


def cmd_closing(port, mode):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0" if mode == "http10" else "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            n = int(self.headers.get("Content-Length", 0))
            data = self.rfile.read(n) if n else b"closing\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            if mode == "close":
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True

        do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_GET

    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer.request_queue_size = 128
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), H).serve_forever()


def cmd_burst(host, port, n, conc, methods):
    # CONC connections at once, each sending its own share of the N
    # requests (request i on connection i % CONC) one after another: a
    # connection whose answers come fast cannot take the others' share,
    # so the requests spread over the connections (and so over the
    # workers) as the kernel spread the connections.
    import threading
    methods = methods.split(",")
    n, conc = int(n), int(conc)
    out = []
    lock = threading.Lock()
    start = threading.Barrier(conc)

    def one(k):
        c = None
        start.wait()
        for i in range(k, n, conc):
            m = methods[i % len(methods)]
            body = b"body%d" % i if m in ("POST", "PUT") else None
            try:
                if c is None:
                    c = http.client.HTTPConnection(host, int(port), timeout=10)
                c.request(m, "/burst%d" % i, body=body)
                r = c.getresponse()
                r.read()
                res = str(r.status)
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException):
                res = "error"
                c = None
            with lock:
                out.append("%s %s" % (m, res))

    ts = [threading.Thread(target=one, args=(k,)) for k in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("\n".join(out))


def cmd_slowread(host, port, path, pause):
    s = socket.create_connection((host, int(port)), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % path.encode())
    got = bytearray(s.recv(65536))
    print("paused", flush=True)
    time.sleep(float(pause))
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += b
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    print(head.split(b" ")[1].decode(), len(body))


def cmd_late(src, host, port):
    s = socket.create_connection((host, int(port)), timeout=10,
                                 source_address=(src, 0))
    print("connected", flush=True)
    sys.stdin.readline()
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.sock = s
    c.request("GET", "/late")
    r = c.getresponse()
    r.read()
    print(r.status, r.getheader("X-RateLimit-Remaining", "-"), flush=True)


if __name__ == "__main__":
    cmds = {"app": cmd_app, "flask": cmd_flask, "headers": cmd_headers,
            "dates": cmd_dates, "metrics": cmd_metrics, "raw": cmd_raw, "keepalive": cmd_keepalive,
            "trickle": cmd_trickle, "hold": cmd_hold, "uploads": cmd_uploads,
            "late": cmd_late, "closing": cmd_closing, "burst": cmd_burst,
            "slowread": cmd_slowread}
    cmds[sys.argv[1]](*sys.argv[2:])
