"""A test double of vLLM's OpenAI-compatible server for one embedding model: NOT vLLM, it runs no model.

It answers the routes an embedding client uses with the shapes, status codes and error texts of
vLLM 0.32.0 (the release the vllm role deploys by default), read from its source
(vllm/entrypoints/serve/middleware/authenticate.py, serve/engine/serving.py, serve/engine/protocol.py,
renderers/params.py, pooling_params.py):

  GET /health               200, empty body; open without the key, as in vLLM
  GET /v1/models            {"object": "list", "data": [ModelCard]} with the served name and max_model_len
  POST /v1/embeddings       one unit vector per input, float or base64 (little-endian float32)

  with --api-key, any /v1 route without "Authorization: Bearer <key>":
                            401 {"error": "Unauthorized"}
  a model it does not serve 404 {"error": {"message": "The model `x` does not exist. Valid aliases: <name>.",
                                           "type": "NotFoundError", "param": "model", "code": 404}}
  an input over the context 400 {"error": {"message": "This model's maximum context length is N tokens. However,
                                           your prompt contains M input tokens, which exceeds this limit even
                                           without any output tokens. Please reduce the length of the input
                                           prompt.", "type": "BadRequestError", "param": "input_tokens", "code": 400}}
  `dimensions` for a model without Matryoshka training:
                            400 "Model 'x' does not support Matryoshka embeddings; dimensions must be unset
                                 (received dimensions=N)."

Simulated instead of done: tokens are counted as words plus two (CLS and SEP), and vectors are
deterministic (sha256 of the text), so the same text always gives the same vector. With a capacity, the double
also stands for a saturated engine: it answers at most that many embedding requests a second, one after the
other in arrival order, and the rest wait, idle, as in an engine's queue (benchmarks/pool_isolation.py floods one
such pool through the gateway without spending this machine's CPU on it).

In a test: `with running(model="bge-m3", dimension=384, max_model_len=512, api_key="k") as server: server.url`.
Standalone (PYTHONPATH=tests): `python3 tests/integration/vllm_double.py --model m --port 8000 --capacity 20`.
"""

import argparse
import base64
import hashlib
import json
import math
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from doubles import server_thread


class VllmDoubleServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 2048  # uvicorn's listen backlog (socketserver's 5 drops connections under a burst)

    def __init__(self, address, model, dimension, max_model_len, api_key=None, capacity=None):
        super().__init__(address, Handler)
        self.model, self.dimension, self.max_model_len, self.api_key = model, dimension, max_model_len, api_key
        self.requests = []  # (method, path) of every request, in order
        self.service_s = 1.0 / capacity if capacity else 0.0
        self._queue_lock = threading.Lock()
        self._free_at = 0.0  # when the simulated engine finishes the requests it has taken

    def wait_turn(self):
        """With a capacity: sleep until this request's turn ends (arrival order, service_s each)."""
        if not self.service_s:
            return
        with self._queue_lock:
            done = max(time.monotonic(), self._free_at) + self.service_s
            self._free_at = done
        time.sleep(max(0.0, done - time.monotonic()))

    @property
    def url(self):
        return "http://%s:%d/v1" % self.server_address[:2]

    def vector(self, text):
        raw = []
        counter = 0
        while len(raw) < self.dimension:
            digest = hashlib.sha256(("%d:%s" % (counter, text)).encode()).digest()
            raw.extend(byte - 127.5 for byte in digest)
            counter += 1
        raw = raw[: self.dimension]
        norm = math.sqrt(sum(value * value for value in raw))
        return [struct.unpack("<f", struct.pack("<f", value / norm))[0] for value in raw]

    def embeddings(self, body):
        if body.get("model") != self.model:
            return 404, error("The model `%s` does not exist. Valid aliases: %s." % (body.get("model"), self.model),
                              "NotFoundError", 404, param="model")
        if body.get("dimensions") is not None:
            return 400, error("Model %r does not support Matryoshka embeddings; dimensions must be unset (received "
                              "dimensions=%s)." % (self.model, body["dimensions"]), "BadRequestError", 400)
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        tokens = [len(text.split()) + 2 for text in inputs]
        for count in tokens:
            if count > self.max_model_len:
                return 400, error(
                    "This model's maximum context length is %d tokens. However, your prompt contains %d input "
                    "tokens, which exceeds this limit even without any output tokens. Please reduce the length of "
                    "the input prompt." % (self.max_model_len, count), "BadRequestError", 400, param="input_tokens")
        data = []
        for index, text in enumerate(inputs):
            vector = self.vector(text)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack("<%df" % len(vector), *vector)).decode()
            data.append({"index": index, "object": "embedding", "embedding": vector})
        return 200, {
            "id": "embd-%016x" % len(self.requests), "object": "list", "created": int(time.time()),
            "model": self.model, "data": data,
            "usage": {"prompt_tokens": sum(tokens), "total_tokens": sum(tokens), "completion_tokens": 0,
                      "prompt_tokens_details": None},
        }

    def models(self):
        return 200, {"object": "list", "data": [{
            "id": self.model, "object": "model", "created": int(time.time()), "owned_by": "vllm",
            "root": "/models/" + self.model, "parent": None, "max_model_len": self.max_model_len, "permission": [],
        }]}


def error(message, kind, code, param=None):
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class Handler(BaseHTTPRequestHandler):
    server_version = "uvicorn"
    sys_version = ""

    def _answer(self):
        server = self.server
        server.requests.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/v1") and server.api_key and \
                self.headers.get("Authorization") != "Bearer %s" % server.api_key:
            return self._send(401, {"error": "Unauthorized"})
        if (self.command, self.path) == ("GET", "/health"):
            return self._send(200, None)
        if (self.command, self.path) == ("GET", "/v1/models"):
            return self._send(*server.models())
        if (self.command, self.path) == ("POST", "/v1/embeddings"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._send(400, error("Invalid JSON body", "BadRequestError", 400))
            server.wait_turn()
            return self._send(*server.embeddings(body))
        return self._send(404, {"detail": "Not Found"})

    do_GET = do_POST = _answer

    def _send(self, status, doc):
        payload = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def running(model, dimension, max_model_len, api_key=None, host="127.0.0.1", port=0, capacity=None):
    """Run the double in a thread for the duration of a `with` block; yields the server (server.url)."""
    return server_thread.running(VllmDoubleServer((host, port), model, dimension, max_model_len, api_key,
                                                  capacity=capacity))


def main():
    parser = argparse.ArgumentParser(description="A test double of vLLM's embedding server (NOT vLLM).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--max-model-len", type=int, default=512)
    parser.add_argument("--api-key")
    parser.add_argument("--capacity", type=float, help="embedding requests answered per second; the rest wait")
    args = parser.parse_args()
    server = VllmDoubleServer((args.host, args.port), args.model, args.dimension, args.max_model_len,
                              api_key=args.api_key, capacity=args.capacity)
    print("vllm double (NOT vLLM): %s on %s:%d, capacity %s" % (
        args.model, args.host, args.port, args.capacity or "unlimited"), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
