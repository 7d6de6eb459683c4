# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test double of Ollama's REST API: a stand-in for the ollama/ollama server in tests.

This is NOT Ollama and runs no model. It answers the routes of Ollama's documented HTTP API
(docs/api.md, server/routes.go) with the same request fields, answer shapes, status codes and
error texts, so that modules, roles and Molecule scenarios can be tested without the real image,
without a GPU and without ollama.com:

  GET|HEAD /                      "Ollama is running"
  GET /api/version                {"version": ...}
  GET /api/tags                   local models, most recently modified first
  POST /api/show                  details, model_info (read from the model's GGUF metadata), capabilities
  POST /api/pull                  NDJSON progress ("pulling manifest", "pulling <digest>" with total and
                                  completed, "verifying sha256 digest", "writing manifest", "success");
                                  stream:false answers one {"status": "success"}
  DELETE /api/delete              200, or 404 {"error": "model 'x' not found"}
  POST /api/copy                  200, or 404
  GET /api/ps                     loaded models and when they expire (keep_alive)
  HEAD|POST /api/blobs/sha256:<d> 200/404; POST answers 201 (200 when the blob exists), 400 on digest mismatch
  POST /api/create                {model, files: {name: digest}} or {model, from, parameters}: NDJSON progress
  POST /api/embed                 {model, input, truncate, dimensions, keep_alive, options}
  POST /api/embeddings            {model, prompt} -> {embedding} (deprecated; vectors not normalised)
  POST /v1/embeddings             OpenAI shape, float or base64; token-id arrays are refused with 400
                                  "invalid input type" as Ollama does (ollama#5907)
  GET /v1/models, /v1/models/<m>  OpenAI model list

Behaviour copied from Ollama, where a test depends on it:
- Errors are {"error": "..."} (OpenAI shape under /v1). A streamed answer that fails after its first
  line carries the error as its last NDJSON line with HTTP 200 already sent; a failure before any line
  (or with stream:false) is an HTTP error: an unknown model in the registry is 500
  "pull model manifest: file does not exist" with stream:false, and a 200 stream of
  "pulling manifest" then that error otherwise (server/routes.go streamResponse).
- Pulls resume: progress of a layer is kept in blobs/sha256-<hex>-partial-0 (as Ollama's
  blobDownloadPart does), so a pull the client cancels and starts again reports `completed` from
  where it stopped.
- Models live in --models-dir with Ollama's layout (manifests/<host>/<namespace>/<model>/<tag>,
  blobs/sha256-<hex>), so a restart keeps them, as the volume at /root/.ollama does. /api/tags'
  digest is the sha256 of the manifest file, so it changes exactly when the model's layers change.
  Deleting or replacing a model prunes blobs no manifest uses (unless OLLAMA_NOPRUNE is set).
- Embedding requests run one at a time per model (a lock): Ollama's scheduler loads embedding
  models with parallel=1 whatever OLLAMA_NUM_PARALLEL says (server/sched.go; ollama#8778, #6262).
  More than --max-queue waiting requests answer 503 (OLLAMA_MAX_QUEUE).
- An input longer than the context (min(num_ctx, <arch>.context_length)) is refused with 400
  "the input length exceeds the context length" whatever `truncate` says (ollama#14186, since 0.13.5);
  a model may also cap what it really reads below its context ("token_cap" in the registry; bge-m3
  stops at 2048 tokens, ollama#14259), silently, as Ollama does.
- Names are [host/][namespace/]model[:tag]; tag defaults to latest, namespace to library, host to
  registry.ollama.ai; /api/tags shows the shortest form (all-minilm:latest, ns/model:tag).

What is simulated instead of done:
- The "registry" is --registry-dir: JSON model definitions (one object or a list per *.json file):
  {"name": "all-minilm" | "ns/name", "tag": "latest" | "tags": [...], "digest": "sha256:<64 hex>",
   "size": bytes, "family": "bert", "embedding_length": 384, "context_length": 512,
   "quantization": "F16", "parameter_size": "23M", "pooling": "mean" | "cls" | "none",
   "token_cap": 2048, "license": "..."}.
  The file is read on every pull, so a test can change a digest to publish a new version.
- A pulled model's weights blob is a small GGUF file holding only the metadata (no tensors); its
  name is the registry's digest, not the hash of its content. Blobs uploaded to /api/blobs are real.
- Vectors are deterministic: sha256 of (the model's weights digest, the text) expanded and
  normalised, so the same text gives the same vector, different texts differ, and a model whose
  weights change gives new vectors. Tokens are counted as words and punctuation plus two.
- --registry-unreachable (or no --registry-dir) makes pulls fail as Ollama does when it cannot reach
  registry.ollama.ai; --disk-free BYTES makes a pull fail with "no space left on device" once the
  layers pulled exceed it.

Run it:
  python3 ollama_double.py --host 0.0.0.0 --port 11434 --models-dir DIR --registry-dir DIR
  python3 ollama_double.py serve     # the same, configured from OLLAMA_HOST, OLLAMA_MODELS and
                                     # OLLAMA_DOUBLE_REGISTRY as the real `ollama serve` is
  python3 ollama_double.py list | ps | pull NAME | rm NAME | show NAME | --version
                                     # a small `ollama` CLI for health checks in the container
In a test, start it in-process with tests/doubles/ollama.py:
`with serve_ollama(models_dir, registry_dir) as server: server.url`.

Standard library only, Python 3.9+ (the image has 3.11).
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import datetime
import hashlib
import json
import math
import os
import re
import signal
import struct
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

VERSION = "0.34.2"
DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
DEFAULT_KEEP_ALIVE = 300.0
FOREVER = float("inf")

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_LICENSE = "application/vnd.ollama.image.license"
MEDIA_PARAMS = "application/vnd.ollama.image.params"
MEDIA_TEMPLATE = "application/vnd.ollama.image.template"
MEDIA_SYSTEM = "application/vnd.ollama.image.system"

DIGEST_RE = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")
_MODEL_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
_NAMESPACE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
_HOST_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")

# GGUF general.file_type values (llama.cpp's llama_ftype) and the names Ollama shows for them.
FILE_TYPES = {
    "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10,
    "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16,
    "Q5_K_M": 17, "Q6_K": 18, "IQ2_XXS": 19, "IQ2_XS": 20, "BF16": 32,
}
FILE_TYPE_NAMES = {value: key for key, value in FILE_TYPES.items()}
POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3}

# --------------------------------------------------------------------------------------------
# Model names


class Name:
    """An Ollama model name: [host/][namespace/]model[:tag] (types/model/name.go)."""

    __slots__ = ("host", "namespace", "model", "tag")

    def __init__(self, host, namespace, model, tag):
        self.host, self.namespace, self.model, self.tag = host, namespace, model, tag

    @classmethod
    def parse(cls, text):
        """The Name that `text` spells, or None when it is not a valid name."""
        if not isinstance(text, str) or not text or text != text.strip():
            return None
        rest, tag = text, DEFAULT_TAG
        colon, slash = rest.rfind(":"), rest.rfind("/")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1:]
        parts = rest.split("/")
        if len(parts) == 1:
            host, namespace, model = DEFAULT_HOST, DEFAULT_NAMESPACE, parts[0]
        elif len(parts) == 2:
            host, (namespace, model) = DEFAULT_HOST, parts
        elif len(parts) == 3:
            host, namespace, model = parts
        else:
            return None
        if not (_HOST_PART.match(host) and _NAMESPACE_PART.match(namespace) and _MODEL_PART.match(model)):
            return None
        if not _MODEL_PART.match(tag):
            return None
        return cls(host, namespace, model, tag)

    def parts(self):
        return (self.host, self.namespace, self.model, self.tag)

    def key(self):
        """Ollama compares names case-insensitively."""
        return tuple(part.lower() for part in self.parts())

    def display(self):
        """The shortest form, as /api/tags shows it (DisplayShortest)."""
        if self.host.lower() == DEFAULT_HOST:
            if self.namespace.lower() == DEFAULT_NAMESPACE:
                return "%s:%s" % (self.model, self.tag)
            return "%s/%s:%s" % (self.namespace, self.model, self.tag)
        return "%s/%s/%s:%s" % (self.host, self.namespace, self.model, self.tag)

    def __eq__(self, other):
        return isinstance(other, Name) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "Name(%r)" % self.display()


# --------------------------------------------------------------------------------------------
# GGUF metadata: just enough to write a model file without tensors and to read any file's header.

GGUF_MAGIC = b"GGUF"
_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_T_UINT32, _T_INT32, _T_FLOAT32, _T_BOOL, _T_STRING, _T_ARRAY, _T_INT64 = 4, 5, 6, 7, 8, 9, 11


def _gguf_type(value):
    if isinstance(value, bool):
        return _T_BOOL
    if isinstance(value, int):
        if 0 <= value < 2**32:
            return _T_UINT32
        return _T_INT32 if -(2**31) <= value < 0 else _T_INT64
    if isinstance(value, float):
        return _T_FLOAT32
    if isinstance(value, str):
        return _T_STRING
    if isinstance(value, (list, tuple)):
        return _T_ARRAY
    raise TypeError("GGUF cannot hold %r" % (value,))


def _gguf_value(kind, value):
    if kind == _T_STRING:
        raw = value.encode("utf-8")
        return struct.pack("<Q", len(raw)) + raw
    if kind == _T_ARRAY:
        inner = _gguf_type(value[0]) if value else _T_STRING
        return struct.pack("<IQ", inner, len(value)) + b"".join(_gguf_value(inner, item) for item in value)
    return struct.pack(_GGUF_SCALARS[kind], value)


def gguf_bytes(metadata, version=3):
    """A GGUF file (version 3) holding `metadata` and no tensors."""
    out = [GGUF_MAGIC, struct.pack("<IQQ", version, 0, len(metadata))]
    for key, value in metadata.items():
        kind = _gguf_type(value)
        out.append(_gguf_value(_T_STRING, key) + struct.pack("<I", kind) + _gguf_value(kind, value))
    return b"".join(out)


def write_gguf(path, metadata, padding=0):
    """Write a GGUF file holding `metadata`; `padding` zero bytes after it stand in for tensor data."""
    with open(path, "wb") as handle:
        handle.write(gguf_bytes(metadata))
        handle.write(b"\0" * padding)


def read_gguf_metadata(path, max_array=5):
    """The key/value metadata of a GGUF file; arrays longer than max_array read as [] (as /api/show does).

    Raises ValueError when the file is not GGUF.
    """

    def take(fmt):
        size = struct.calcsize(fmt)
        raw = handle.read(size)
        if len(raw) != size:
            raise ValueError("truncated GGUF header")
        return struct.unpack(fmt, raw)[0]

    def string():
        raw = handle.read(take("<Q"))
        return raw.decode("utf-8", "replace")

    def value(kind):
        if kind == _T_STRING:
            return string()
        if kind == _T_ARRAY:
            inner, count = take("<I"), take("<Q")
            items = [value(inner) for _index in range(count)]
            return items if max_array < 0 or count <= max_array else []
        if kind not in _GGUF_SCALARS:
            raise ValueError("unknown GGUF value type %d" % kind)
        return take(_GGUF_SCALARS[kind])

    with open(path, "rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ValueError("not a GGUF file")
        version = take("<I")
        if version < 2:
            raise ValueError("unsupported GGUF version %d" % version)
        take("<Q")  # tensor count
        metadata = {}
        for _index in range(take("<Q")):
            key = string()
            metadata[key] = value(take("<I"))
        return metadata


def human_number(count):
    """Ollama's format.HumanNumber: 22565376 -> 23M."""
    for factor, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= factor:
            scaled = count / factor
            return ("%.0f%s" if scaled >= 10 or scaled == int(scaled) else "%.1f%s") % (scaled, suffix)
    return str(count)


def parse_human_number(text):
    match = re.match(r"^\s*([0-9.]+)\s*([KMB]?)\s*$", str(text or ""), re.IGNORECASE)
    if not match:
        return 0
    return int(float(match.group(1)) * {"": 1, "K": 10**3, "M": 10**6, "B": 10**9}[match.group(2).upper()])


# --------------------------------------------------------------------------------------------
# Vectors and tokens


def _float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def raw_vector(seed, text, dimension):
    """Deterministic values in [-1, 1) from sha256(seed, text): the model's unnormalised output."""
    key = hashlib.sha256(("%s\0%s" % (seed, text)).encode("utf-8")).digest()
    values = []
    block = 0
    while len(values) < dimension:
        words = struct.unpack("<8I", hashlib.sha256(key + struct.pack("<I", block)).digest())
        values.extend(word / 2**31 - 1.0 for word in words)
        block += 1
    return values[:dimension]


def normalize(vector):
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def wire_float(value):
    """A float32 written the way Go writes one: the shortest decimal that reads back the same float32."""
    return float("%.9g" % _float32(value))


def finish_vector(raw, dimensions=None):
    """What /api/embed does to a model's output: normalise, optionally cut to `dimensions` and normalise again."""
    vector = normalize(raw)
    if dimensions and 0 < dimensions < len(vector):
        vector = normalize(vector[:dimensions])
    return [wire_float(value) for value in vector]


def text_vector(seed, text, dimension, dimensions=None):
    """The vector /api/embed answers for `text` from a model whose weights digest is `seed`."""
    return finish_vector(raw_vector(seed, text, dimension), dimensions)


_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text):
    return _TOKEN_RE.findall(text)


def token_count(text):
    """Words and punctuation plus the two special tokens a BERT tokenizer adds."""
    return len(tokenize(text)) + 2


# --------------------------------------------------------------------------------------------
# Times and durations, written as Go writes them


def go_time(timestamp):
    if timestamp == FOREVER:
        moment = datetime.datetime(2318, 1, 1, tzinfo=datetime.timezone.utc)
    else:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).astimezone()
    text = moment.isoformat()
    if "." in text:
        head, rest = text.split(".", 1)
        digits = re.match(r"\d+", rest).group(0)
        text = head + ("." + digits.rstrip("0") if digits.rstrip("0") else "") + rest[len(digits):]
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value, default):
    """api.Duration: a number of seconds or a Go duration string; negative means forever."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise ApiError(400, "json: cannot unmarshal bool into Go struct field .keep_alive of type api.Duration")
    if isinstance(value, (int, float)):
        return FOREVER if value < 0 else float(value)
    if not isinstance(value, str):
        raise ApiError(400, "json: cannot unmarshal %s into Go struct field .keep_alive" % type(value).__name__)
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = re.findall(r"([0-9]*\.?[0-9]+)(ns|us|\u00b5s|ms|s|m|h)", body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        if re.fullmatch(r"[0-9.]+", body):
            raise ApiError(400, 'time: missing unit in duration "%s"' % value)
        raise ApiError(400, 'time: invalid duration "%s"' % value)
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    return FOREVER if sign < 0 else seconds


def keep_alive_from_env(value):
    """OLLAMA_KEEP_ALIVE as Ollama's envconfig reads it: a Go duration, else whole seconds
    ("300"); negative means forever. Unlike the API field, a plain number in the string is allowed."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    try:
        return parse_keep_alive(value, DEFAULT_KEEP_ALIVE)
    except ApiError:
        if re.fullmatch(r"[+-]?[0-9]+", value.strip()):
            seconds = int(value.strip())
            return FOREVER if seconds < 0 else float(seconds)
        raise


# --------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """An answer of `status` with {"error": message}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    """The client closed the connection while we were streaming to it."""


# --------------------------------------------------------------------------------------------
# The model store (OLLAMA_MODELS)


def digest_hex(digest):
    match = DIGEST_RE.match(digest or "") if isinstance(digest, str) else None
    if not match:
        raise ApiError(400, "invalid digest format")
    return match.group(1).lower()


def sha256_bytes(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Store:
    """Manifests and blobs in Ollama's on-disk layout."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.blobs = os.path.join(self.root, "blobs")
        self.manifests = os.path.join(self.root, "manifests")
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(self.manifests, exist_ok=True)
        self.lock = threading.RLock()

    def blob_path(self, digest):
        return os.path.join(self.blobs, "sha256-" + digest_hex(digest))

    def has_blob(self, digest):
        return os.path.isfile(self.blob_path(digest))

    def write_blob(self, data):
        digest = sha256_bytes(data)
        path = self.blob_path(digest)
        if not os.path.exists(path):
            _atomic_write(path, data)
        return digest

    def all_manifests(self):
        """(Name, path) of every manifest on disk."""
        found = []
        for host in sorted(os.listdir(self.manifests)):
            for dirpath, _dirs, files in os.walk(os.path.join(self.manifests, host)):
                rel = os.path.relpath(dirpath, self.manifests).split(os.sep)
                if len(rel) != 3:
                    continue
                for tag in files:
                    name = Name(rel[0], rel[1], rel[2], tag)
                    if Name.parse(name.display()) is not None:
                        found.append((name, os.path.join(dirpath, tag)))
        return found

    def find(self, name):
        """Path of the manifest of `name` (matched case-insensitively), or None."""
        for found, path in self.all_manifests():
            if found == name:
                return found, path
        return None

    def manifest_path(self, name):
        existing = self.find(name)
        if existing:
            return existing[1]
        return os.path.join(self.manifests, *name.parts())

    def write_manifest(self, name, manifest):
        raw = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
        path = self.manifest_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _atomic_write(path, raw)
        return hashlib.sha256(raw).hexdigest()

    def remove_manifest(self, name):
        existing = self.find(name)
        if not existing:
            return False
        os.remove(existing[1])
        directory = os.path.dirname(existing[1])
        while directory != self.manifests and not os.listdir(directory):
            os.rmdir(directory)
            directory = os.path.dirname(directory)
        return True

    def referenced(self):
        digests = set()
        for _name, path in self.all_manifests():
            try:
                with open(path, "rb") as handle:
                    manifest = json.load(handle)
            except (OSError, ValueError):
                continue
            for layer in [manifest.get("config") or {}] + list(manifest.get("layers") or []):
                if layer.get("digest"):
                    digests.add(layer["digest"].replace("sha256-", "sha256:"))
        return digests

    def prune(self):
        """Remove the blobs no manifest refers to; return their digests."""
        keep = self.referenced()
        removed = []
        for entry in os.listdir(self.blobs):
            match = re.match(r"^sha256-([0-9a-f]{64})$", entry)
            if match and "sha256:" + match.group(1) not in keep:
                os.remove(os.path.join(self.blobs, entry))
                removed.append("sha256:" + match.group(1))
        return removed


def _atomic_write(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


class Model:
    """A local model as the API reports it: manifest, config, GGUF metadata."""

    def __init__(self, store, name, path):
        self.name = name
        self.path = path
        with open(path, "rb") as handle:
            raw = handle.read()
        self.manifest = json.loads(raw.decode("utf-8"))
        self.digest = hashlib.sha256(raw).hexdigest()
        self.modified = os.stat(path).st_mtime
        self.config = {}
        config_digest = (self.manifest.get("config") or {}).get("digest")
        if config_digest and store.has_blob(config_digest):
            with open(store.blob_path(config_digest), "rb") as handle:
                self.config = json.loads(handle.read().decode("utf-8") or "{}")
        self.layers = list(self.manifest.get("layers") or [])
        self.size = sum(int(layer.get("size") or 0) for layer in self.layers)
        self.size += int((self.manifest.get("config") or {}).get("size") or 0)
        self.model_layer = next((layer for layer in self.layers if layer.get("mediaType") == MEDIA_MODEL), None)
        self.blob_path = store.blob_path(self.model_layer["digest"]) if self.model_layer else None
        self.kv = {}
        if self.blob_path and os.path.isfile(self.blob_path):
            with contextlib.suppress(ValueError, OSError):
                self.kv = read_gguf_metadata(self.blob_path)
        self.params = {}
        self.license = []
        self.template = "{{ .Prompt }}"
        self.system = ""
        for layer in self.layers:
            media = layer.get("mediaType")
            if media not in (MEDIA_PARAMS, MEDIA_LICENSE, MEDIA_TEMPLATE, MEDIA_SYSTEM):
                continue
            try:
                with open(store.blob_path(layer["digest"]), "rb") as handle:
                    text = handle.read().decode("utf-8", "replace")
            except OSError:
                continue
            if media == MEDIA_PARAMS:
                with contextlib.suppress(ValueError):
                    self.params = json.loads(text)
            elif media == MEDIA_LICENSE:
                self.license.append(text)
            elif media == MEDIA_TEMPLATE:
                self.template = text
            else:
                self.system = text

    @property
    def arch(self):
        return str(self.kv.get("general.architecture") or self.config.get("model_family") or "")

    def info(self, key, default=None):
        return self.kv.get("%s.%s" % (self.arch, key), default)

    @property
    def embedding_length(self):
        return int(self.info("embedding_length", 0) or 0)

    @property
    def context_length(self):
        return int(self.info("context_length", 0) or 0)

    @property
    def weights_digest(self):
        return self.model_layer["digest"] if self.model_layer else "sha256:" + self.digest

    def capabilities(self):
        caps = list(self.config.get("capabilities") or [])
        if not caps:
            caps = ["embedding"] if "%s.pooling_type" % self.arch in self.kv else ["completion"]
        return caps

    def details(self):
        return {
            "parent_model": "",
            "format": self.config.get("model_format", "gguf"),
            "family": self.config.get("model_family", self.arch),
            "families": self.config.get("model_families") or ([self.arch] if self.arch else None),
            "parameter_size": self.config.get("model_type", ""),
            "quantization_level": self.config.get("file_type", ""),
        }

    def modelfile(self):
        lines = [
            '# Modelfile generated by "ollama show"',
            "# To build a new Modelfile based on this, replace FROM with:",
            "# FROM %s" % self.name.display(),
            "",
            "FROM %s" % (self.blob_path or self.name.display()),
            "TEMPLATE %s" % self.template,
        ]
        for key, value in sorted(self.params.items()):
            for item in value if isinstance(value, list) else [value]:
                lines.append("PARAMETER %s %s" % (key, json.dumps(item) if isinstance(item, str) else item))
        for text in self.license:
            lines.append('LICENSE """%s"""' % text)
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# The registry the double pulls from


class RegistryEntry:
    def __init__(self, doc, source):
        name = Name.parse(str(doc.get("name", "")))
        if name is None or ":" in str(doc.get("name", "")).rsplit("/", 1)[-1]:
            raise ValueError("%s: name %r is not [host/][namespace/]model (put the tag in tag or tags)"
                             % (source, doc.get("name")))
        tags = doc.get("tags") or [doc.get("tag") or DEFAULT_TAG]
        self.names = [Name(name.host, name.namespace, name.model, str(tag)) for tag in tags]
        if any(Name.parse(n.display()) is None for n in self.names):
            raise ValueError("%s: invalid tag in %r" % (source, tags))
        self.size = int(doc.get("size") or 0)
        if self.size < 0:
            raise ValueError("%s: size must be positive" % source)
        self.digest = doc.get("digest") or sha256_bytes(("%s:%d" % (name.display(), self.size)).encode())
        digest_hex(self.digest)
        self.digest = "sha256:" + digest_hex(self.digest)
        self.family = str(doc.get("family") or "bert")
        self.embedding_length = int(doc.get("embedding_length") or 384)
        self.context_length = int(doc.get("context_length") or 512)
        self.quantization = str(doc.get("quantization") or "F16").upper()
        self.parameter_size = str(doc.get("parameter_size") or "")
        self.pooling = str(doc.get("pooling") or "mean")
        if self.pooling not in POOLING:
            raise ValueError("%s: pooling must be one of %s" % (source, ", ".join(POOLING)))
        self.token_cap = int(doc.get("token_cap") or 0)
        self.capabilities = doc.get("capabilities")
        self.license = doc.get("license")
        self.params = doc.get("parameters") or {}
        self.block_count = int(doc.get("block_count") or 12)
        self.head_count = int(doc.get("head_count") or 12)

    def gguf_metadata(self):
        arch = self.family
        metadata = {
            "general.architecture": arch,
            "general.name": self.names[0].model,
            "general.file_type": FILE_TYPES.get(self.quantization, 1),
            "general.quantization_version": 2,
            "%s.block_count" % arch: self.block_count,
            "%s.context_length" % arch: self.context_length,
            "%s.embedding_length" % arch: self.embedding_length,
            "%s.attention.head_count" % arch: self.head_count,
            "tokenizer.ggml.model": "bert",
        }
        if self.parameter_size:
            metadata["general.parameter_count"] = parse_human_number(self.parameter_size)
        if (self.capabilities is None or "embedding" in self.capabilities) and self.pooling != "none":
            metadata["%s.pooling_type" % arch] = POOLING[self.pooling]
        return metadata

    def small_layers(self):
        """(mediaType, content) of the layers besides the weights."""
        layers = []
        if self.license:
            layers.append((MEDIA_LICENSE, str(self.license).encode("utf-8")))
        if self.params:
            layers.append((MEDIA_PARAMS, json.dumps(self.params, separators=(",", ":")).encode("utf-8")))
        return layers

    def config_bytes(self, layer_digests):
        config = {
            "model_format": "gguf",
            "model_family": self.family,
            "model_families": [self.family],
            "model_type": self.parameter_size,
            "file_type": self.quantization,
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": layer_digests},
        }
        if self.capabilities:
            config["capabilities"] = list(self.capabilities)
        if self.token_cap:
            config["double_token_cap"] = self.token_cap
        return json.dumps(config, separators=(",", ":")).encode("utf-8")

    def manifest(self):
        """(manifest, {digest: content} of the small blobs) as the registry would serve them."""
        blobs = {}
        layers = [{"mediaType": MEDIA_MODEL, "digest": self.digest, "size": self.size}]
        for media, content in self.small_layers():
            digest = sha256_bytes(content)
            blobs[digest] = content
            layers.append({"mediaType": media, "digest": digest, "size": len(content)})
        config = self.config_bytes([layer["digest"] for layer in layers])
        config_digest = sha256_bytes(config)
        blobs[config_digest] = config
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": layers,
        }
        return manifest, blobs


class Registry:
    def __init__(self, directory):
        self.directory = directory

    def entries(self):
        entries = []
        if not self.directory or not os.path.isdir(self.directory):
            return entries
        for filename in sorted(os.listdir(self.directory)):
            if not filename.endswith(".json"):
                continue
            source = os.path.join(self.directory, filename)
            try:
                with open(source, encoding="utf-8") as handle:
                    doc = json.load(handle)
                for item in doc if isinstance(doc, list) else [doc]:
                    entries.append(RegistryEntry(item, source))
            except (OSError, ValueError, TypeError, ApiError) as exc:
                sys.stderr.write("ollama-double: skipping registry file %s: %s\n" % (source, exc))
        return entries

    def lookup(self, name):
        for entry in self.entries():
            if name in entry.names:
                return entry
        return None


# --------------------------------------------------------------------------------------------
# The server


class OllamaDoubleServer(ThreadingHTTPServer):
    """The test double's HTTP server. Attributes may be changed while it runs (tests do)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address,
        models_dir,
        registry_dir=None,
        version=VERSION,
        pull_steps=20,
        pull_step_delay=0.0,
        embed_delay=0.0,
        load_delay=0.0,
        max_queue=512,
        disk_free=None,
        registry_unreachable=False,
        default_num_ctx=4096,
        keep_alive=DEFAULT_KEEP_ALIVE,
        noprune=False,
        quiet=True,
    ):
        self.store = Store(models_dir)
        self.registry = Registry(registry_dir)
        self.registry_dir = registry_dir
        self.version = version
        self.pull_steps = max(1, int(pull_steps))
        self.pull_step_delay = pull_step_delay
        self.embed_delay = embed_delay
        self.load_delay = load_delay
        self.max_queue = max_queue
        self.disk_free = disk_free
        self.registry_unreachable = registry_unreachable
        self.default_num_ctx = default_num_ctx
        self.keep_alive = keep_alive
        self.noprune = noprune
        self.quiet = quiet
        self.state = threading.Lock()
        self.model_locks = {}
        self.download_locks = {}
        self.loaded = {}
        self.pending = 0
        self.max_running_seen = 0
        self.running_embeds = 0
        self.requests = collections.deque(maxlen=10000)  # (method, path) of recent requests, for tests
        super().__init__(address, Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return "http://%s:%d" % ("127.0.0.1" if host in ("0.0.0.0", "") else host, port)

    # ---- models

    def model(self, name):
        found = self.store.find(name)
        return Model(self.store, found[0], found[1]) if found else None

    def models(self):
        models = []
        for name, path in self.store.all_manifests():
            with contextlib.suppress(OSError, ValueError):
                models.append(Model(self.store, name, path))
        return models

    def _lock(self, table, key):
        with self.state:
            return table.setdefault(key, threading.Lock())

    # ---- pull

    def pull(self, name):
        """Generator of the progress of pulling `name`; raises ApiError as Ollama's PullModel fails."""
        yield {"status": "pulling manifest"}
        if self.registry_unreachable or not self.registry_dir:
            raise ApiError(
                500,
                'pull model manifest: Get "https://%s/v2/%s/%s/manifests/%s": dial tcp: lookup %s on '
                "127.0.0.11:53: server misbehaving" % (name.host, name.namespace, name.model, name.tag, name.host),
            )
        entry = self.registry.lookup(name)
        if entry is None:
            raise ApiError(500, "pull model manifest: file does not exist")
        manifest, small_blobs = entry.manifest()
        old = self.model(name)
        for layer in manifest["layers"] + [manifest["config"]]:
            yield from self._download(layer, entry, small_blobs)
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        with self.store.lock:
            self.store.write_manifest(name, manifest)
            removed = self.store.prune() if old is not None and not self.noprune else []
        if removed:
            yield {"status": "removing unused layers"}
        yield {"status": "success"}

    def _download(self, layer, entry, small_blobs):
        digest, total = layer["digest"], int(layer["size"])
        status = {"status": "pulling %s" % digest_hex(digest)[:12], "digest": digest, "total": total}
        path = self.store.blob_path(digest)
        if os.path.exists(path):
            yield dict(status, completed=total)
            return
        with self._lock(self.download_locks, digest):
            part = path + "-partial-0"
            completed = 0
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError), open(part, encoding="utf-8") as handle:
                completed = min(total, int(json.load(handle)["Completed"]))
            if not os.path.exists(part):
                open(path + "-partial", "ab").close()
            yield dict(status, completed=completed) if completed else dict(status)
            step = total if total <= 65536 else max(1, -(-total // self.pull_steps))
            try:
                while completed < total:
                    if self.pull_step_delay:
                        time.sleep(self.pull_step_delay)
                    grow = min(step, total - completed)
                    with self.state:
                        if self.disk_free is not None:
                            if grow > self.disk_free:
                                raise ApiError(500, "write %s-partial: no space left on device" % path)
                            self.disk_free -= grow
                    completed += grow
                    yield dict(status, completed=completed)
            finally:
                if completed < total:
                    record = {"N": 0, "Offset": 0, "Size": total, "Completed": completed}
                    _atomic_write(part, json.dumps(record).encode("utf-8"))
            if layer.get("mediaType") == MEDIA_MODEL:
                content = gguf_bytes(entry.gguf_metadata())
            else:
                content = small_blobs.get(digest, b"")
            _atomic_write(path, content)
            for leftover in (part, path + "-partial"):
                with contextlib.suppress(OSError):
                    os.remove(leftover)

    # ---- create

    def create(self, name, request):
        """Check a create request, then return the generator of its progress (server/create.go)."""
        files = request.get("files")
        source = request.get("from")
        if files is not None and not isinstance(files, dict):
            raise ApiError(400, "json: cannot unmarshal %s into Go struct field CreateRequest.files of type "
                           "map[string]string" % type(files).__name__)
        if request.get("quantize") or request.get("quantization"):
            raise ApiError(400, "the Ollama test double does not quantize: upload a GGUF in the wanted type")
        weights = None
        for filename, digest in (files or {}).items():
            if os.path.isabs(filename) or ".." in filename.split("/"):
                raise ApiError(400, "file path must be relative")
            path = self.store.blob_path(digest)
            if not os.path.isfile(path):
                raise ApiError(400, "open %s: no such file or directory" % path)
            with open(path, "rb") as handle:
                magic = handle.read(4)
            if magic != GGUF_MAGIC:
                raise ApiError(400, "supplied file was not in GGUF format")
            if weights is not None:
                raise ApiError(400, "invalid split GGUF")
            weights = ("sha256:" + digest_hex(digest), path)
        base = None
        if weights is None:
            if not source:
                raise ApiError(400, "neither 'from' or 'files' was specified")
            from_name = Name.parse(source)
            if from_name is None:
                raise ApiError(400, "invalid model name")
            base = self.model(from_name)
            if base is None:
                raise ApiError(404, "model '%s' not found" % source)
        return self._create(name, request, weights, base)

    def _create(self, name, request, weights, base):
        old = self.model(name)
        layers = []
        if weights:
            yield {"status": "parsing GGUF"}
            digest, path = weights
            try:
                kv = read_gguf_metadata(path)
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
            arch = str(kv.get("general.architecture") or "")
            file_type = kv.get("general.file_type")
            count = kv.get("general.parameter_count")
            config = {
                "model_format": "gguf",
                "model_family": arch,
                "model_families": [arch] if arch else None,
                "model_type": human_number(int(count)) if count else "",
                "file_type": FILE_TYPE_NAMES.get(file_type, "") if file_type is not None else "",
                "architecture": "amd64",
                "os": "linux",
            }
            yield {"status": "using existing layer %s" % digest}
            layers.append({"mediaType": MEDIA_MODEL, "digest": digest, "size": os.path.getsize(path)})
        else:
            yield {"status": "using existing layer %s" % base.weights_digest}
            config = {key: value for key, value in base.config.items() if key != "rootfs"}
            layers.extend(layer for layer in base.layers if layer.get("mediaType") != MEDIA_PARAMS)
        params = dict(base.params) if base else {}
        params.update(request.get("parameters") or {})
        extra = []
        if request.get("template"):
            extra.append((MEDIA_TEMPLATE, str(request["template"]).encode("utf-8")))
        if request.get("system"):
            extra.append((MEDIA_SYSTEM, str(request["system"]).encode("utf-8")))
        licenses = request.get("license")
        for text in [licenses] if isinstance(licenses, str) else licenses or []:
            if text:
                extra.append((MEDIA_LICENSE, str(text).encode("utf-8")))
        if params:
            extra.append((MEDIA_PARAMS, json.dumps(params, separators=(",", ":"), sort_keys=True).encode("utf-8")))
        for media, content in extra:
            digest = self.store.write_blob(content)
            layers = [layer for layer in layers if layer.get("mediaType") != media or media == MEDIA_LICENSE]
            layers.append({"mediaType": media, "digest": digest, "size": len(content)})
            yield {"status": "creating new layer %s" % digest}
        config["rootfs"] = {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]}
        config_raw = json.dumps(config, separators=(",", ":")).encode("utf-8")
        config_digest = self.store.write_blob(config_raw)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config_raw)},
            "layers": layers,
        }
        yield {"status": "writing manifest"}
        with self.store.lock:
            self.store.write_manifest(name, manifest)
            if old is not None and not self.noprune:
                self.store.prune()
        yield {"status": "success"}

    # ---- embeddings

    def embed(self, model_text, texts, dimensions=None, options=None, keep_alive=None, normalized=True):
        """(vectors, token counts, load seconds, total seconds); raises ApiError as Ollama's EmbedHandler."""
        start = time.monotonic()
        name = Name.parse(model_text) if isinstance(model_text, str) else None
        if name is None:
            raise ApiError(404, "model '%s' not found" % (model_text or ""))
        keep = parse_keep_alive(keep_alive, self.keep_alive)
        model = self.model(name)
        if model is None:
            raise ApiError(404, 'model "%s" not found, try pulling it first' % model_text)
        options = options if isinstance(options, dict) else {}
        num_ctx = options.get("num_ctx") or model.params.get("num_ctx") or self.default_num_ctx
        context = min(int(num_ctx), model.context_length or int(num_ctx))
        cap = int(model.config.get("double_token_cap") or 0)
        with self.state:
            if self.pending >= self.max_queue:
                raise ApiError(503, "server busy, please try again.  maximum pending requests exceeded")
            self.pending += 1
        try:
            with self._lock(self.model_locks, model.path):
                with self.state:
                    self.running_embeds += 1
                    self.max_running_seen = max(self.max_running_seen, self.running_embeds)
                try:
                    load = self._load(model, context)
                    vectors, counts = [], []
                    for text in texts:
                        count = token_count(text)
                        if count > context:
                            raise ApiError(400, "the input length exceeds the context length")
                        if cap and count > cap:
                            text = " ".join(tokenize(text)[: cap - 2])
                            count = cap
                        raw = raw_vector(model.weights_digest, text, model.embedding_length or 384)
                        if normalized:
                            vectors.append(finish_vector(raw, dimensions))
                        else:
                            vectors.append([wire_float(value) for value in raw])
                        counts.append(count)
                        if self.embed_delay:
                            time.sleep(self.embed_delay)
                finally:
                    with self.state:
                        self.running_embeds -= 1
                    self._expire(model, context, keep)
        finally:
            with self.state:
                self.pending -= 1
        return vectors, counts, load, time.monotonic() - start

    def _load(self, model, context):
        with self.state:
            entry = self.loaded.get(model.path)
            fresh = entry is None or entry["expires"] <= time.time() or entry["digest"] != model.digest
        if not fresh:
            return 0.0
        if self.load_delay:
            time.sleep(self.load_delay)
        with self.state:
            self.loaded[model.path] = {"model": model, "digest": model.digest, "expires": FOREVER,
                                       "context": context}
        return self.load_delay or 0.0001

    def _expire(self, model, context, keep):
        with self.state:
            if keep == 0:
                self.loaded.pop(model.path, None)
            else:
                self.loaded[model.path] = {"model": model, "digest": model.digest, "context": context,
                                           "expires": FOREVER if keep == FOREVER else time.time() + keep}

    def running(self):
        now = time.time()
        with self.state:
            for path in [path for path, entry in self.loaded.items() if entry["expires"] <= now]:
                del self.loaded[path]
            return sorted(self.loaded.values(), key=lambda entry: -entry["expires"])

    def unload(self, model):
        with self.state:
            self.loaded.pop(model.path, None)


def _json_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-double/" + VERSION
    sys_version = ""

    ROUTES = [
        ("GET", r"/", "root"),
        ("HEAD", r"/", "root"),
        ("GET", r"/api/version", "version"),
        ("HEAD", r"/api/version", "version"),
        ("GET", r"/api/tags", "tags"),
        ("HEAD", r"/api/tags", "tags"),
        ("POST", r"/api/show", "show"),
        ("POST", r"/api/pull", "pull"),
        ("DELETE", r"/api/delete", "delete"),
        ("POST", r"/api/copy", "copy"),
        ("GET", r"/api/ps", "ps"),
        ("HEAD", r"/api/blobs/(?P<digest>[^/]+)", "head_blob"),
        ("POST", r"/api/blobs/(?P<digest>[^/]+)", "post_blob"),
        ("POST", r"/api/create", "create"),
        ("POST", r"/api/embed", "embed"),
        ("POST", r"/api/embeddings", "embeddings"),
        ("POST", r"/v1/embeddings", "v1_embeddings"),
        ("GET", r"/v1/models", "v1_models"),
        ("GET", r"/v1/models/(?P<model>.+)", "v1_model"),
    ]

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("ollama-double: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_DELETE = do_HEAD = do_PUT = do_PATCH = do_OPTIONS = do_GET

    # ---- plumbing

    def dispatch(self):
        self._streaming = False
        self._body_read = False
        path = unquote(urlsplit(self.path).path)
        self.server.requests.append((self.command, path))
        allowed = False
        for method, pattern, action in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            allowed = True
            if method != self.command:
                continue
            try:
                getattr(self, "api_" + action)(**match.groupdict())
            except ApiError as err:
                self.fail(err)
            except ClientGone:
                self.close_connection = True
            self._drain()
            return
        self._drain()
        if allowed:
            self.send_text(405, "405 method not allowed")
        else:
            self.send_text(404, "404 page not found")

    def fail(self, err):
        if self._streaming:
            with contextlib.suppress(ClientGone):
                self.stream_line({"error": err.message})
            self.end_stream()
        elif self.path.startswith("/v1/"):
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(err.status, "api_error")
            body = {"error": {"message": err.message, "type": kind, "param": None, "code": None}}
            self.send_json(err.status, body)
        else:
            self.send_json(err.status, {"error": err.message})

    def _chunks(self):
        """The request body, piece by piece (Content-Length or chunked)."""
        self._body_read = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 20))
                    if not piece:
                        raise ClientGone()
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            piece = self.rfile.read(min(left, 1 << 20))
            if not piece:
                raise ClientGone()
            left -= len(piece)
            yield piece

    def _drain(self):
        if not self._body_read:
            with contextlib.suppress(ClientGone, OSError, ValueError):
                for _piece in self._chunks():
                    pass

    def body(self):
        return b"".join(self._chunks())

    def json_body(self, struct_name):
        raw = self.body()
        if not raw.strip():
            raise ApiError(400, "missing request body")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "invalid character in request body: %s" % exc) from None
        if not isinstance(doc, dict):
            raise ApiError(
                400, "json: cannot unmarshal %s into Go value of type api.%s" % (_json_type(doc), struct_name)
            )
        return doc

    @staticmethod
    def field(doc, key, kind, struct_name, default=None):
        value = doc.get(key, default)
        if value is None:
            return default
        types = {"string": str, "bool": bool, "number": (int, float), "object": dict}[kind]
        if not isinstance(value, types) or (kind == "number" and isinstance(value, bool)):
            raise ApiError(400, "json: cannot unmarshal %s into Go struct field %s.%s of type %s"
                           % (_json_type(value), struct_name, key, kind))
        return value

    def model_name(self, doc, struct_name):
        return self.field(doc, "model", "string", struct_name) or self.field(doc, "name", "string", struct_name) or ""

    def send_bytes(self, status, payload, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Date", self.date_time_string())
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    def send_response(self, code, message=None):
        # BaseHTTPRequestHandler adds Server and Date; Ollama (Go) sends Date only.
        self.log_request(code)
        self.send_response_only(code, message)

    def send_json(self, status, doc):
        payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        self.send_bytes(status, payload, "application/json; charset=utf-8")

    def send_text(self, status, text):
        self.send_bytes(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def send_empty(self, status):
        self.send_bytes(status, b"", "text/plain; charset=utf-8")

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Date", self.date_time_string())
        self.end_headers()
        self._streaming = True

    def stream_line(self, doc):
        data = json.dumps(doc, separators=(",", ":")).encode("utf-8") + b"\n"
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError:
            raise ClientGone() from None

    def end_stream(self):
        with contextlib.suppress(OSError):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        self._streaming = False

    def progress(self, events, stream):
        """Answer a generator of progress lines as Ollama does (streamResponse / waitForStream)."""
        if not stream:
            last = {}
            for event in events:
                last = event
            self.send_json(200, last)
            return
        try:
            for event in events:
                if not self._streaming:
                    self.start_stream()
                self.stream_line(event)
        except ClientGone:
            events.close()
            self.close_connection = True
            raise
        self.end_stream()

    # ---- routes

    def api_root(self):
        self.send_text(200, "Ollama is running")

    def api_version(self):
        self.send_json(200, {"version": self.server.version})

    def tag_entry(self, model):
        return {
            "name": model.name.display(),
            "model": model.name.display(),
            "modified_at": go_time(model.modified),
            "size": model.size,
            "digest": model.digest,
            "details": model.details(),
        }

    def api_tags(self):
        models = sorted(self.server.models(), key=lambda model: -model.modified)
        self.send_json(200, {"models": [self.tag_entry(model) for model in models]})

    def api_show(self):
        doc = self.json_body("ShowRequest")
        text = self.model_name(doc, "ShowRequest")
        if not text:
            raise ApiError(400, "model is required")
        name = Name.parse(text)
        if name is None:
            raise ApiError(400, "invalid model name")
        model = self.server.model(name)
        if model is None:
            raise ApiError(404, "model '%s' not found" % text)
        verbose = bool(doc.get("verbose"))
        info = dict(read_gguf_metadata(model.blob_path, -1 if verbose else 5)) if model.kv else {}
        info.pop("general.name", None)
        info.pop("tokenizer.chat_template", None)
        params = "\n".join("%-30s %s" % (key, json.dumps(value) if isinstance(value, str) else value)
                           for key, value in sorted(model.params.items()))
        answer = {
            "license": "\n".join(model.license),
            "modelfile": model.modelfile(),
            "parameters": params,
            "template": model.template,
            "details": model.details(),
            "model_info": info,
            "tensors": [],
            "capabilities": model.capabilities(),
            "modified_at": go_time(model.modified),
        }
        if model.system:
            answer["system"] = model.system
        self.send_json(200, answer)

    def api_pull(self):
        doc = self.json_body("PullRequest")
        name = Name.parse(self.model_name(doc, "PullRequest"))
        if name is None:
            raise ApiError(400, "invalid model name")
        self.field(doc, "insecure", "bool", "PullRequest")
        stream = self.field(doc, "stream", "bool", "PullRequest", True)
        self.progress(self.server.pull(name), stream)

    def api_delete(self):
        doc = self.json_body("DeleteRequest")
        text = self.model_name(doc, "DeleteRequest")
        name = Name.parse(text)
        if name is None:
            raise ApiError(400, 'name "%s" is invalid' % text)
        with self.server.store.lock:
            model = self.server.model(name)
            if model is None or not self.server.store.remove_manifest(name):
                raise ApiError(404, "model '%s' not found" % text)
            self.server.unload(model)
            if not self.server.noprune:
                self.server.store.prune()
        self.send_empty(200)

    def api_copy(self):
        doc = self.json_body("CopyRequest")
        source_text = self.field(doc, "source", "string", "CopyRequest", "")
        target_text = self.field(doc, "destination", "string", "CopyRequest", "")
        source, target = Name.parse(source_text), Name.parse(target_text)
        if source is None:
            raise ApiError(400, 'source "%s" is invalid' % source_text)
        if target is None:
            raise ApiError(400, 'destination "%s" is invalid' % target_text)
        model = self.server.model(source)
        if model is None:
            raise ApiError(404, 'model "%s" not found' % source_text)
        with self.server.store.lock:
            self.server.store.write_manifest(target, model.manifest)
        self.send_empty(200)

    def api_ps(self):
        models = []
        for entry in self.server.running():
            model = entry["model"]
            models.append({
                "name": model.name.display(),
                "model": model.name.display(),
                "size": model.size,
                "digest": model.digest,
                "details": model.details(),
                "expires_at": go_time(entry["expires"]),
                "size_vram": 0,
                "context_length": entry["context"],
            })
        self.send_json(200, {"models": models})

    def api_head_blob(self, digest):
        path = self.server.store.blob_path(digest)
        self.send_empty(200 if os.path.isfile(path) else 404)

    def api_post_blob(self, digest):
        path = self.server.store.blob_path(digest)
        if os.path.isfile(path):
            self.send_empty(200)
            return
        hasher = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.server.store.blobs, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for piece in self._chunks():
                    hasher.update(piece)
                    handle.write(piece)
            got = "sha256:" + hasher.hexdigest()
            expected = "sha256:" + digest_hex(digest)
            if got != expected:
                raise ApiError(400, 'digest mismatch, expected "%s", got "%s"' % (expected, got))
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        self.send_empty(201)

    def api_create(self):
        doc = self.json_body("CreateRequest")
        name = Name.parse(self.model_name(doc, "CreateRequest"))
        if name is None:
            raise ApiError(400, "invalid model name")
        stream = self.field(doc, "stream", "bool", "CreateRequest", True)
        self.progress(self.server.create(name, doc), stream)

    @staticmethod
    def inputs(value):
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value else []
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ApiError(400, "invalid input type")
            return value
        raise ApiError(400, "invalid input type")

    def api_embed(self):
        doc = self.json_body("EmbedRequest")
        model = self.field(doc, "model", "string", "EmbedRequest", "")
        texts = self.inputs(doc.get("input"))
        self.field(doc, "truncate", "bool", "EmbedRequest")  # ignored, as since 0.13.5 (ollama#14186)
        dimensions = self.field(doc, "dimensions", "number", "EmbedRequest", 0)
        options = self.field(doc, "options", "object", "EmbedRequest", {})
        vectors, counts, load, total = self.server.embed(
            model, texts, int(dimensions), options, doc.get("keep_alive"), normalized=True
        )
        answer = {"model": model, "embeddings": vectors}
        if texts:
            answer.update(
                total_duration=int(total * 1e9), load_duration=int(load * 1e9), prompt_eval_count=sum(counts)
            )
        self.send_json(200, answer)

    def api_embeddings(self):
        doc = self.json_body("EmbeddingRequest")
        model = self.field(doc, "model", "string", "EmbeddingRequest", "")
        if not model:
            raise ApiError(400, "model is required")
        prompt = self.field(doc, "prompt", "string", "EmbeddingRequest", "")
        options = self.field(doc, "options", "object", "EmbeddingRequest", {})
        try:
            vectors, _counts, _load, _total = self.server.embed(
                model, [prompt] if prompt else [], 0, options, doc.get("keep_alive"), normalized=False
            )
        except ApiError as err:
            if err.status == 400:
                raise ApiError(500, err.message) from None
            raise
        self.send_json(200, {"embedding": vectors[0] if vectors else []})

    def api_v1_embeddings(self):
        doc = self.json_body("EmbedRequest")
        encoding = self.field(doc, "encoding_format", "string", "EmbedRequest", "")
        if encoding and encoding.lower() not in ("float", "base64"):
            raise ApiError(400, "Invalid value for 'encoding_format' = %s. Supported values: ['float', 'base64']."
                           % encoding)
        value = doc.get("input")
        if value == "":
            value = [""]
        if value is None or value == []:
            raise ApiError(400, "invalid input")
        if isinstance(value, str):
            value = [value]
        texts = self.inputs(value)
        model = self.field(doc, "model", "string", "EmbedRequest", "")
        dimensions = self.field(doc, "dimensions", "number", "EmbedRequest", 0)
        vectors, counts, _load, _total = self.server.embed(model, texts, int(dimensions), {}, None)
        data = []
        for index, vector in enumerate(vectors):
            if encoding.lower() == "base64":
                vector = base64.b64encode(struct.pack("<%df" % len(vector), *vector)).decode("ascii")
            data.append({"object": "embedding", "embedding": vector, "index": index})
        tokens = sum(counts)
        self.send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def v1_model(self, model):
        return {"id": model.name.display(), "object": "model", "created": int(model.modified),
                "owned_by": model.name.namespace}

    def api_v1_models(self):
        models = sorted(self.server.models(), key=lambda model: -model.modified)
        self.send_json(200, {"object": "list", "data": [self.v1_model(model) for model in models]})

    def api_v1_model(self, model):
        name = Name.parse(model)
        found = self.server.model(name) if name else None
        if found is None:
            raise ApiError(404, "model '%s' not found" % model)
        self.send_json(200, self.v1_model(found))


# --------------------------------------------------------------------------------------------
# Running it


def _env_host():
    """OLLAMA_HOST as Ollama reads it: [scheme://]host[:port], default 127.0.0.1:11434."""
    value = os.environ.get("OLLAMA_HOST", "").strip().split("://", 1)[-1].rstrip("/")
    host, port = value, ""
    if value.startswith("["):  # [::1]:11434
        host, _bracket, rest = value[1:].partition("]")
        port = rest.lstrip(":")
    elif value.count(":") == 1:
        host, port = value.split(":")
    return host or "127.0.0.1", int(port or 11434)


def server_arguments(argv):
    env_host, env_port = _env_host()
    parser = argparse.ArgumentParser(
        prog="ollama_double.py", description="A test double of Ollama's REST API (not Ollama: it runs no model)."
    )
    parser.add_argument("--host", default=env_host)
    parser.add_argument("--port", type=int, default=env_port)
    parser.add_argument("--models-dir", default=os.environ.get("OLLAMA_MODELS")
                        or os.path.join(os.path.expanduser("~"), ".ollama", "models"))
    parser.add_argument("--registry-dir", default=os.environ.get("OLLAMA_DOUBLE_REGISTRY"),
                        help="directory of JSON model definitions that pulls come from")
    parser.add_argument("--version", dest="server_version", default=os.environ.get("OLLAMA_DOUBLE_VERSION", VERSION))
    parser.add_argument("--pull-steps", type=int, default=20, help="progress lines per large layer")
    parser.add_argument("--pull-step-delay", type=float,
                        default=float(os.environ.get("OLLAMA_DOUBLE_PULL_STEP_DELAY", "0.05")))
    parser.add_argument("--embed-delay", type=float, default=0.0, help="seconds per embedded input")
    parser.add_argument("--load-delay", type=float, default=0.0, help="seconds to 'load' a model")
    parser.add_argument("--max-queue", type=int, default=int(os.environ.get("OLLAMA_MAX_QUEUE") or 512))
    parser.add_argument("--disk-free", type=int, default=None, help="bytes pulls may use before ENOSPC")
    parser.add_argument("--registry-unreachable", action="store_true")
    parser.add_argument("--context-length", type=int, default=int(os.environ.get("OLLAMA_CONTEXT_LENGTH") or 4096))
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def serve(argv):
    args = server_arguments(argv)
    keep_alive = keep_alive_from_env(os.environ.get("OLLAMA_KEEP_ALIVE") or None)
    server = OllamaDoubleServer(
        (args.host, args.port), args.models_dir, args.registry_dir, version=args.server_version,
        pull_steps=args.pull_steps, pull_step_delay=args.pull_step_delay, embed_delay=args.embed_delay,
        load_delay=args.load_delay, max_queue=args.max_queue, disk_free=args.disk_free,
        registry_unreachable=args.registry_unreachable, default_num_ctx=args.context_length,
        keep_alive=keep_alive, noprune=bool(os.environ.get("OLLAMA_NOPRUNE")), quiet=not args.verbose,
    )

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)  # as PID 1 in a container nothing else would stop it
    sys.stderr.write("ollama-double: Listening on %s:%d (version %s), models in %s, registry %s\n"
                     % (args.host, args.port, args.server_version, args.models_dir, args.registry_dir or "(none)"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# ---- a small `ollama` command line, enough for health checks and a human in the container

CLI_COMMANDS = ("list", "ls", "ps", "pull", "rm", "show", "-v", "--version")


def _cli_request(method, path, body=None):
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    host, port = _env_host()
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = Request("http://%s:%d%s" % (host, port, path), data=data, method=method,
                      headers={"Content-Type": "application/json"})
    try:
        return urlopen(request, timeout=600)  # noqa: S310 - a fixed http URL on the local server
    except HTTPError as exc:
        try:
            message = json.loads(exc.read().decode("utf-8")).get("error")
        except ValueError:
            message = exc.reason
        raise SystemExit("Error: %s" % message) from None
    except (URLError, OSError):
        raise SystemExit("Error: could not connect to ollama server, run 'ollama serve' to start it") from None


def _human_bytes(size):
    for factor, unit in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if size >= factor:
            return "%.0f %s" % (size / factor, unit) if size / factor >= 10 else "%.1f %s" % (size / factor, unit)
    return "%d B" % size


def cli(argv):
    command, args = argv[0], argv[1:]
    if command in ("-v", "--version"):
        with contextlib.suppress(SystemExit):
            version = json.load(_cli_request("GET", "/api/version"))["version"]
            print("ollama version is %s" % version)
            return 0
        print("Warning: could not connect to a running Ollama instance\nWarning: client version is %s" % VERSION)
        return 0
    if command in ("list", "ls"):
        models = json.load(_cli_request("GET", "/api/tags"))["models"]
        print("%-40s %-14s %-10s %s" % ("NAME", "ID", "SIZE", "MODIFIED"))
        for model in models:
            print("%-40s %-14s %-10s %s" % (model["name"], model["digest"][:12], _human_bytes(model["size"]),
                                            model["modified_at"]))
        return 0
    if command == "ps":
        models = json.load(_cli_request("GET", "/api/ps"))["models"]
        print("%-40s %-14s %-10s %-10s %s" % ("NAME", "ID", "SIZE", "CONTEXT", "UNTIL"))
        for model in models:
            print("%-40s %-14s %-10s %-10s %s" % (model["name"], model["digest"][:12], _human_bytes(model["size"]),
                                                  model["context_length"], model["expires_at"]))
        return 0
    if not args:
        raise SystemExit("Error: accepts 1 arg(s), received 0")
    if command == "pull":
        with _cli_request("POST", "/api/pull", {"model": args[0]}) as response:
            for line in response:
                event = json.loads(line)
                if "error" in event:
                    raise SystemExit("Error: %s" % event["error"])
                print(event.get("status", ""))
        return 0
    if command == "rm":
        for model in args:
            _cli_request("DELETE", "/api/delete", {"model": model}).close()
            print("deleted '%s'" % model)
        return 0
    if command == "show":
        answer = json.load(_cli_request("POST", "/api/show", {"model": args[0]}))
        print(json.dumps(answer, indent=2))
        return 0
    raise SystemExit("Error: unknown command %r" % command)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in CLI_COMMANDS:
        return cli(argv)
    if argv and argv[0] == "serve":
        argv = argv[1:]
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
