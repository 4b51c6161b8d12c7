"""Shared test set-up: a non-interactive matplotlib backend, the book's paths, and the built site served
on localhost for the browser tests."""

import os
from pathlib import Path

# One torch/OpenMP thread per test process (pytest -n 2 runs two): see mlnotes.core.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- browser tests
import functools  # noqa: E402
import http.server  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """``_build/html`` served on 127.0.0.1 for the duration of a test module; yields its URL."""
    handler = functools.partial(_QuietHandler, directory=str(ROOT / "_build" / "html"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
