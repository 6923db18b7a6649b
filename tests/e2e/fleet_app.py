# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A Flask app with Flask-Limiter's application limit on a Redis storage,
for test_fleet.sh: fleet_app.py HOST PORT STORAGE_URI LIMIT. It dies with
its parent (the test)."""
import ctypes
import signal
import sys

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.serving import run_simple

ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

host, port, storage, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
app = Flask(__name__)
Limiter(get_remote_address, app=app, application_limits=[limit],
        storage_uri=storage, strategy="fixed-window")


@app.route("/")
def index():
    return "ok\n"


run_simple(host, port, app, threaded=True)
