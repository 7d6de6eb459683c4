# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HostileServer: a TEST DOUBLE of an HTTP API server that tries to harm its client.

It listens on 127.0.0.1 only (an ephemeral port), from a thread of the test process, and answers
each route ("METHOD /path") the way a test picks with on(); anything else gets a JSON 404:

  json(body, status=200)         a JSON document (any Python value), or raw bytes as they are
  redirect(location, status=302) a redirect to another origin, file://, ... whatever the test says
  drip(body, interval)           headers at once, then the body one byte every `interval` seconds
  drip_headers(interval)         the status line and headers themselves one byte at a time
  oversized(size, announce)      `size` bytes of body (made as it is sent, never held in memory),
                                 with or without a Content-Length that announces them
  ndjson(lines, interval, then)  NDJSON lines (documents or raw bytes) `interval` seconds apart,
                                 then `then`: "end" (close), "drip" (bytes of a line that never
                                 ends, for 20 s) or "hang" (silence, 20 s)
  embeddings(vectors, fallback)  a well-formed OpenAI embeddings answer to the request's inputs:
                                 vectors[text] for each text it knows, `fallback` for the others,
                                 floats or base64 as the request asks (a server that is wrong only
                                 in its numbers, for the reference and agreement checks)

and the bodies of the hostile answers of this collection's findings: huge_number_embeddings(),
string_index_embeddings(), deep_json(), bad_pull_lines().

Every request is recorded in `requests` as (method, path, headers), so a second server can stand
for "the other origin" a redirect points to and show which headers reached it. `sent_bytes` counts
the body bytes written to the client. Nothing here is used outside tests.
"""

import base64
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

from doubles.server_thread import local_server, start

MODEL = "hostile/model"


def huge_number_embeddings(digits=400):
    """An OpenAI embeddings answer for one input whose vector holds an integer of `digits` digits."""
    return ('{"object":"list","model":"%s","data":[{"object":"embedding","index":0,"embedding":[0.5,%s]}]}'
            % (MODEL, "9" * digits)).encode()


def string_index_embeddings():
    """An OpenAI embeddings answer for one input whose index is the string "0"."""
    return {"object": "list", "model": MODEL, "data": [{"object": "embedding", "index": "0", "embedding": [1.0]}]}


def deep_json(depth=100000):
    """A JSON document of `depth` nested lists: valid JSON, deeper than Python's recursion limit."""
    return b"[" * depth + b"]" * depth


def bad_pull_lines(field="total", value="lots"):
    """The NDJSON of an Ollama pull whose progress line has `field` set to `value` (not a byte count)."""
    line = {"status": "pulling 0123abcd", "digest": "sha256:" + "0" * 64, "total": 1000, "completed": 10}
    line[field] = value
    return [{"status": "pulling manifest"}, line, {"status": "success"}]


def models_list(*models):
    return {"object": "list", "data": [{"id": model, "object": "model"} for model in models or (MODEL,)]}


class HostileServer:
    """An HTTP server on 127.0.0.1 whose answers, route by route, a test chooses (see the module docstring)."""

    def __init__(self, host="127.0.0.1"):
        self.routes = {}
        self.requests = []
        self.sent_bytes = 0
        self.stopping = threading.Event()
        self.server = local_server(self._handler(), host)
        self.stop = start(self.server)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path=""):
        return self.origin + path

    def on(self, route, scenario, **options):
        """Answer `route` ("GET /v1/models") with `scenario` (a method name above) and its options."""
        self.routes[route] = (scenario, options)
        return self

    def headers_of(self, path):
        """The headers of every request recorded for `path`."""
        return [headers for _method, got, headers in self.requests if got == path]

    def close(self):
        self.stopping.set()
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the scenarios, each run by the handler of one request

    def json(self, handler, body, status=200, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        self._write(handler, data)

    def embeddings(self, handler, vectors, fallback=None):
        request = json.loads(handler.request_body or b"{}")
        inputs = request.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if fallback is None:
            dimension = len(next(iter(vectors.values()))) if vectors else 1
            fallback = [1.0] + [0.0] * (dimension - 1)
        data = []
        for i, text in enumerate(inputs):
            vector = vectors.get(text, fallback)
            if request.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack("<%df" % len(vector), *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(len(text.split()) + 2 for text in inputs)
        self.json(handler, {"object": "list", "model": request.get("model", MODEL), "data": data,
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def redirect(self, handler, location, status=302):
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def drip(self, handler, body=b'{"object": "list", "data": []}' + b" " * 200, interval=0.25):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for i in range(len(body)):
            if not self._write(handler, body[i:i + 1]) or self.stopping.wait(interval):
                return

    def drip_headers(self, handler, interval=0.25):
        head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n{}"
        for i in range(len(head)):
            if not self._write(handler, head[i:i + 1], count=False) or self.stopping.wait(interval):
                return

    def oversized(self, handler, size=64 * 1000 * 1000, announce=False):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if announce:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        chunk = b"[" + b"0," * 32767 + b"0"
        left = size
        while left > 0 and not self.stopping.is_set():
            if not self._write(handler, chunk[:left]):
                return
            left -= min(left, len(chunk))

    def ndjson(self, handler, lines, interval=0.0, then="end"):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/x-ndjson")
        handler.end_headers()
        for line in lines:
            data = line if isinstance(line, bytes) else json.dumps(line).encode() + b"\n"
            if not self._write(handler, data) or (interval and self.stopping.wait(interval)):
                return
        if then == "drip":  # for at most 20 s, so that a client without a deadline fails rather than hangs
            end = time.monotonic() + 20
            while time.monotonic() < end and self._write(handler, b" ") and not self.stopping.wait(0.2):
                pass
        elif then == "hang":
            self.stopping.wait(20)

    # ---- plumbing

    def _write(self, handler, data, count=True):
        """Write data to the client; False once it has gone away."""
        try:
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:
            return False
        if count:
            self.sent_bytes += len(data)
        return True

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.request_body = self.rfile.read(length) if length else b""
                double.requests.append((self.command, self.path, dict(self.headers.items())))
                scenario, options = double.routes.get(
                    "%s %s" % (self.command, self.path), ("json", {"body": {"detail": "Not Found"}, "status": 404})
                )
                started = time.monotonic()
                getattr(double, scenario)(self, **options)
                self.answer_s = time.monotonic() - started

            do_GET = do_POST = do_HEAD = do_DELETE = _answer

        return Handler
