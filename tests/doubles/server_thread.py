"""A test double's HTTP server run in a thread of the test process: written once, for every double and test.

local_server(handler) makes an http.server on a free port of 127.0.0.1; start(server) serves any socketserver (the
doubles' own ThreadingHTTPServer subclasses too) in a daemon thread and returns stop(); running(server) serves it
for the duration of a `with` block. QuietHandler is a request handler that logs nothing and answers with send().
closed_port() is a local port nothing listens on.
"""

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCALHOST = "127.0.0.1"


def local_server(handler, host=LOCALHOST):
    """A ThreadingHTTPServer (daemon threads) for `handler` on a free port of `host`; start() or running() serve it."""
    return ThreadingHTTPServer((host, 0), handler)


def start(server):
    """Serve `server` in a daemon thread; returns stop(), which shuts it down and closes its socket."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


@contextlib.contextmanager
def running(server):
    """Serve `server` in a thread for the duration of a `with` block; yields the server."""
    stop = start(server)
    try:
        yield server
    finally:
        stop()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no log line (the test's output stays the test's) and answers with send()."""

    content_type = "application/octet-stream"  # what send() says the body is, unless told

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype=None, extra=None):
        """Answer `status` with the bytes `body`, its Content-Type and Content-Length, and the headers in extra."""
        self.send_response(status)
        self.send_header("Content-Type", self.content_type if ctype is None else ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def closed_port():
    """A local port nothing listens on (bound, then released): a connection to it is refused."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]
