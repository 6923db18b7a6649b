#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The Python side of tests/e2e/test_routes.sh:
#   app PORT [off]   a Flask app with Debian's Flask-Limiter 3.3: the
#                    routes of ROUTES below, each decorated as the test's
#                    `xlimit route` commands say, an application-wide limit
#                    and default limits, the client named by X-Client.
#                    With "off" the limiter is disabled: the same app, as
#                    the sidecar's application, so that both sides answer
#                    alike when nothing is limited.
#   drive XLIMIT_URL FLASK_URL   runs STEPS against both, each side on its
#                    own clock, and prints lines "ok|FAIL what" comparing,
#                    request by request, status, X-RateLimit-Limit,
#                    -Remaining and the 429's message, and Retry-After and
#                    X-RateLimit-Reset (from each side's start) within a
#                    second; a last line "statuses ..." of the oracle's.
import http.client
import sys
import time
import urllib.parse

APP_LIMIT = "10 per 10 seconds"  # `xlimit limit set PORT ... --action pass`
DEFAULT = "5 per 10 seconds"  # `xlimit route add PORT '*' ...`

# One step: (seconds after the start, client, method, path, count).
# Each client is one source address for the sidecar (127.0.0.N) and one
# X-Client for Flask. Counts per client stay under APP_LIMIT except for
# client 6, which runs into it.
STEPS = [
    (0, 2, "GET", "/limited", 5),  # 3 per 10 s, then 429 with the message
    (0, 3, "GET", "/get-only", 3),  # GET: 2 per 10 s
    (0, 3, "POST", "/get-only", 2),  # POST: the default limits, this route's
    (0, 4, "GET", "/api/a", 2),  # the prefix: 4 per 10 s, shared under it
    (0, 4, "GET", "/api/b/c", 3),
    (0, 4, "GET", "/api/special", 2),  # exact beats the prefix: 1 per 10 s
    (0, 5, "GET", "/free", 12),  # exempt: never limited, no headers
    (0, 5, "GET", "/anything", 6),  # no route: the default limits
    (0, 5, "GET", "/plain", 2),  # its own count of the default limits
    (0, 5, "GET", "/anything%2Felse", 1),  # decoded: still the default
    (0, 6, "GET", "/plain", 4),
    (0, 6, "GET", "/other", 4),
    (0, 6, "GET", "/limited", 3),  # the 11th request: the app limit
    (2, 2, "GET", "/limited", 1),  # still over
    (11, 2, "GET", "/limited", 2),  # a new window
    (11, 6, "GET", "/limited", 1),  # the app limit's window is new too
]


def cmd_app(port, off=None):
    import flask
    from flask_limiter import Limiter

    app = flask.Flask("routes")
    if off:
        app.config["RATELIMIT_ENABLED"] = False
    limiter = Limiter(lambda: flask.request.headers.get("X-Client", "none"),
                      app=app, default_limits=[DEFAULT],
                      application_limits=[APP_LIMIT], headers_enabled=True,
                      storage_uri="memory://")
    methods = ["GET", "POST"]

    @app.route("/limited", methods=methods)
    @limiter.limit("3 per 10 seconds", error_message="slow down <now>")
    def limited():
        return "limited\n"

    @app.route("/get-only", methods=methods)
    @limiter.limit("2 per 10 seconds", methods=["GET"])
    def get_only():
        return "get-only\n"

    @app.route("/api/<path:rest>", methods=methods)
    @limiter.limit("4 per 10 seconds")
    def api(rest):
        return "api\n"

    @app.route("/api/special", methods=methods)
    @limiter.limit("1 per 10 seconds", error_message="special: 1 per 10 s")
    def special():
        return "special\n"

    @app.route("/free", methods=methods)
    @limiter.exempt
    def free():
        return "free\n"

    @app.route("/plain", methods=methods)
    def plain():
        return "plain\n"

    @app.route("/", defaults={"p": ""}, methods=methods)
    @app.route("/<path:p>", methods=methods)
    def index(p):
        return "hello\n"

    app.run(host="127.0.0.1", port=int(port), threaded=True)


def request(url, method, path, client, xlimit):
    u = urllib.parse.urlsplit(url)
    if xlimit:
        conn = http.client.HTTPConnection(
            u.hostname, u.port, timeout=5,
            source_address=("127.0.0.%d" % client, 0))
        headers = {}
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        headers = {"X-Client": "c%d" % client}
    conn.request(method, path, body=b"" if method == "POST" else None,
                 headers=headers)
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    h = {k: r.getheader(k, "-") for k in (
        "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
        "Retry-After")}
    msg = "-"
    if r.status == 429:
        msg = body.split("<p>")[1].split("</p>")[0] if "<p>" in body else body
    return r.status, h, msg


def cmd_drive(xl_url, fl_url):
    t0 = {}
    results = {True: [], False: []}
    for off, client, method, path, count in STEPS:
        for xlimit, url in ((True, xl_url), (False, fl_url)):
            if xlimit not in t0:
                t0[xlimit] = time.time()
            wait = t0[xlimit] + off - time.time()
            if wait > 0:
                time.sleep(wait)
            for i in range(count):
                results[xlimit].append(
                    ((off, client, method, path, i + 1),
                     request(url, method, path, client, xlimit)))
    statuses = []
    for (what, xl), (_, fl) in zip(results[True], results[False]):
        off, client, method, path, i = what
        name = "+%ds client %d %s %s #%d" % (off, client, method, path, i)
        xs, xh, xm = xl
        fs, fh, fm = fl
        statuses.append(str(fs))
        same = (xs, xh["X-RateLimit-Limit"], xh["X-RateLimit-Remaining"], xm)
        want = (fs, fh["X-RateLimit-Limit"], fh["X-RateLimit-Remaining"], fm)
        print("%s %s: status, Limit, Remaining, message as "
              "Flask-Limiter %s%s" % ("ok  " if same == want else "FAIL",
                                      name, want,
                                      "" if same == want else
                                      ", xlimit %s" % (same,)))
        for h, base in (("X-RateLimit-Reset", True), ("Retry-After", False)):
            xv, fv = xh[h], fh[h]
            if xv == "-" or fv == "-":
                good = xv == fv
            else:
                xd = int(xv) - (int(t0[True]) if base else 0)
                fd = int(fv) - (int(t0[False]) if base else 0)
                good = abs(xd - fd) <= 1
            print("%s %s: %s within 1 s of Flask-Limiter's (%s vs %s%s)" % (
                "ok  " if good else "FAIL", name, h, xv, fv,
                ", from each start" if base else ""))
    print("statuses " + " ".join(statuses))


if __name__ == "__main__":
    {"app": cmd_app, "drive": cmd_drive}[sys.argv[1]](*sys.argv[2:])
