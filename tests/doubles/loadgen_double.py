"""A small OpenAI-embeddings endpoint on 127.0.0.1 for the load generator's tests.

Plain http.server (not aiohttp), HTTP/1.1 keep-alive, one thread per connection. Every request
passes through one lock, as if the server had one engine: `stall_at` makes the n-th request hold
it for `stall_s` seconds, so every request that arrives meanwhile waits too (a server stall).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from doubles import server_thread

MODEL = "all-minilm-l6-v2"


class Double:
    def __init__(self):
        self.dimension = 4
        self.status = 200  # answer every embeddings request with this status
        self.error_body = None
        self.api_key = None
        self.delay = 0.0  # seconds each answer takes
        self.stall_at = None  # 1-based number of the request that stalls
        self.stall_s = 0.0
        self.tamper = None  # tamper(doc) changes a successful answer
        self.lock = threading.Lock()
        self.count_lock = threading.Lock()
        self.count = 0
        self.bodies = []
        self.headers = []

    def answer(self, path, headers, body):
        with self.count_lock:
            self.count += 1
            number = self.count
            self.bodies.append(body)
            self.headers.append(headers)
        with self.lock:
            if self.stall_at == number:
                time.sleep(self.stall_s)
            if self.delay:
                time.sleep(self.delay)
        if self.api_key and headers.get("Authorization") != "Bearer %s" % self.api_key:
            given = (headers.get("Authorization") or "").replace("Bearer ", "")
            return 401, {"error": {"message": "Incorrect API key provided: %s" % given, "code": 401}}
        if path != "/v1/embeddings":
            return 404, {"detail": "Not Found"}
        if self.status != 200:
            return self.status, self.error_body or {"object": "error", "message": "boom", "code": self.status}
        inputs = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.5] * self.dimension} for i in range(len(inputs))
        ]
        tokens = sum(len(text.split()) + 2 for text in inputs)  # as a BERT tokenizer counts these words
        doc = {"object": "list", "model": body["model"], "data": data,
               "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        if self.tamper:
            self.tamper(doc)
        return 200, doc


def start(double):
    """Serve `double`; returns (api_base, stop)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, doc = double.answer(self.path, dict(self.headers), body)
            payload = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = server_thread.local_server(Handler)
    stop = server_thread.start(server)
    return "http://127.0.0.1:%d/v1" % server.server_address[1], stop
