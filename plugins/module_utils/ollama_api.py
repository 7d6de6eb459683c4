# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ollama's own REST API (model management, embeddings) on top of HttpClient.

Shared by the ollama_model and ollama_model_info modules and the Ollama role. Standard library
only: this runs on managed hosts. The API facts it relies on (routes, answer shapes, error texts)
are the ones the Ollama test double in tests/ollama_double reproduces.

Every failure is an EndpointError whose `kind` says what the operator can do. On top of
http_client's kinds (name_resolution, connection_refused, timeout, tls, connection, http, config)
this layer uses:
  invalid_name        the server refused the model name
  unknown_model       the registry has no such model or tag ("pull model manifest: file does not exist")
  registry_unreachable  the Ollama server could not reach its registry (DNS, proxy, TLS, network)
  no_space            the Ollama server ran out of disk space
  server_too_old      the model needs a newer Ollama
  pull_failed         any other error the pull reported
  digest_mismatch     an uploaded blob's sha256 is not the one it was sent as
  create_failed       /api/create refused the model
  model_not_found     the model is not on the server (show, embed)
  invalid_response    an answer that is not what Ollama sends
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
from typing import Any, Iterable, Mapping
from urllib.parse import urlparse

from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    HttpResponse,
    error_detail,
    stream_ndjson,
)

DEFAULT_API_BASE = "http://127.0.0.1:11434"
DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
GGUF_MAGIC = b"GGUF"

_MODEL_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")
_SHA256_RE = re.compile(r"^(?:sha256[:-])?([0-9a-f]{64})$", re.IGNORECASE)
_WEIGHTS_RE = re.compile(r"sha256[-:]([0-9a-f]{64})")
NAME_FORMAT = (
    "write it as [registry/][namespace/]model[:tag], for example bge-m3, all-minilm:22m, "
    "myteam/bge-m3:q8_0 or registry.example.com:5000/myteam/bge-m3:v1"
)

# How the Ollama server words a failure to reach its registry (Go's net/http, DNS and TLS errors).
_NETWORK_PHRASES = (
    "dial tcp", "no such host", "server misbehaving", "i/o timeout", "connection refused", "connection reset",
    "network is unreachable", "no route to host", "tls handshake timeout", "x509:", "tls:", "proxyconnect",
    "context deadline exceeded", "max retries exceeded", "temporary failure in name resolution",
    "unexpected eof", "502 bad gateway", "503 service unavailable", "504 gateway timeout",
)
_NO_SPACE_PHRASES = ("no space left on device", "insufficient storage", "not enough space", "disk quota exceeded")
_UNKNOWN_MODEL_PHRASES = ("file does not exist", "manifest unknown", "name unknown", "repository not found")

PROXY_HINT = (
    "the pull is made by the Ollama server, not by Ansible: if that host reaches the internet through a proxy, set "
    "HTTPS_PROXY (not HTTP_PROXY; registry.ollama.ai is HTTPS) in the environment of the Ollama server or container "
    "and restart it; on an air-gapped host import a GGUF file with the gguf option instead"
)


def api_base_errors(api_base: str) -> list[str]:
    """What is wrong with an Ollama api_base, in the option's words (empty when nothing)."""
    url = urlparse(api_base)
    if url.scheme not in ("http", "https") or not url.netloc:
        return ["api_base must be the Ollama server's root URL, such as %s; got %r" % (DEFAULT_API_BASE, api_base)]
    if url.path.rstrip("/").endswith("/v1"):
        return [
            "api_base must be the Ollama server's root URL without /v1 (Ollama's own API is under /api): "
            "use %s" % api_base.rstrip("/")[: -len("/v1")]
        ]
    return []


class ModelName:
    """An Ollama model name, [registry/][namespace/]model[:tag] (Ollama's types/model/name.go)."""

    def __init__(self, host: str, namespace: str, model: str, tag: str, explicit_tag: bool = True) -> None:
        self.host = host
        self.namespace = namespace
        self.model = model
        self.tag = tag
        self.explicit_tag = explicit_tag

    @classmethod
    def parse(cls, text: Any) -> ModelName:
        """The ModelName `text` spells; ValueError says what is wrong and how to write it."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the model name is empty: %s" % NAME_FORMAT)
        if text != text.strip() or any(char.isspace() for char in text):
            raise ValueError("the model name %r holds spaces: %s" % (text, NAME_FORMAT))
        if "://" in text:
            raise ValueError(
                "the model name %r starts with a URL scheme: drop %r and %s"
                % (text, text.split("://", 1)[0] + "://", NAME_FORMAT)
            )
        if "@" in text:
            raise ValueError(
                "the model name %r names a digest: this module pulls by tag; %s" % (text, NAME_FORMAT)
            )
        rest, tag, explicit = text, DEFAULT_TAG, False
        colon, slash = rest.rfind(":"), rest.rfind("/")
        if colon > slash:
            rest, tag, explicit = rest[:colon], rest[colon + 1:], True
        parts = rest.split("/")
        if len(parts) > 3:
            raise ValueError(
                "the model name %r has %d parts separated by '/', at most 3 are allowed: %s"
                % (text, len(parts), NAME_FORMAT)
            )
        host, namespace, model = [DEFAULT_REGISTRY, DEFAULT_NAMESPACE][: 3 - len(parts)] + parts
        checks = (
            ("model", model, _MODEL_RE, "letters, digits, '_', '-' and '.'"),
            ("tag", tag, _MODEL_RE, "letters, digits, '_', '-' and '.'"),
            ("namespace", namespace, _NAMESPACE_RE, "letters, digits, '_' and '-' (no '.')"),
            ("registry", host, _HOST_RE, "letters, digits, '_', '-', '.' and ':port'"),
        )
        for what, value, pattern, allowed in checks:
            if not pattern.match(value):
                raise ValueError(
                    "the %s %r in the model name %r is not valid: it may hold only %s, must start with a letter, "
                    "digit or '_' and be 1 to %d characters long; %s"
                    % (what, value, text, allowed, 350 if what == "registry" else 80, NAME_FORMAT)
                )
        return cls(host, namespace, model, tag, explicit)

    def key(self) -> tuple[str, str, str, str]:
        """Ollama matches names case-insensitively."""
        return (self.host.lower(), self.namespace.lower(), self.model.lower(), self.tag.lower())

    def same_model(self, other: ModelName) -> bool:
        """Same registry, namespace and model, whatever the tag."""
        return self.key()[:3] == other.key()[:3]

    def display(self) -> str:
        """The shortest form, as /api/tags lists the model: all-minilm:latest, myteam/bge-m3:q8_0."""
        if self.host.lower() == DEFAULT_REGISTRY:
            if self.namespace.lower() == DEFAULT_NAMESPACE:
                return "%s:%s" % (self.model, self.tag)
            return "%s/%s:%s" % (self.namespace, self.model, self.tag)
        return "%s/%s/%s:%s" % (self.host, self.namespace, self.model, self.tag)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelName) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __str__(self) -> str:
        return self.display()


def parse_model_name(text: Any) -> ModelName:
    return ModelName.parse(text)


def normalize_sha256(text: str | None) -> str:
    """'sha256:<hex>', '<hex>' or 'sha256-<hex>' -> the lower-case hex digits; ValueError otherwise."""
    match = _SHA256_RE.match((text or "").strip())
    if not match:
        raise ValueError("%r is not a sha256 digest (64 hexadecimal digits, optionally after 'sha256:')" % text)
    return match.group(1).lower()


def file_sha256(path: str, chunk_size: int = 4 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_digest(show: Mapping[str, Any] | None) -> str | None:
    """The digest of the model's weights blob, read from the FROM line of /api/show's modelfile."""
    for line in (show or {}).get("modelfile", "").splitlines():
        if line.startswith("FROM "):
            match = _WEIGHTS_RE.search(line)
            if match:
                return "sha256:" + match.group(1)
    return None


def _info_value(info: Mapping[str, Any], arch: str | None, key: str) -> Any:
    if arch and "%s.%s" % (arch, key) in info:
        return info["%s.%s" % (arch, key)]
    for name, value in info.items():
        if name.endswith("." + key) and name.count(".") == 1:
            return value
    return None


def model_facts(entry: Mapping[str, Any], show: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The facts of one model from its /api/tags entry and (optionally) its /api/show answer."""
    show = show or {}
    details = show.get("details") or entry.get("details") or {}
    info = show.get("model_info") or {}
    arch = info.get("general.architecture") or details.get("family")
    capabilities = list(show.get("capabilities") or [])
    return {
        "name": entry.get("name") or entry.get("model"),
        "digest": entry.get("digest"),
        "size": entry.get("size"),
        "modified_at": entry.get("modified_at"),
        "format": details.get("format"),
        "family": details.get("family"),
        "families": details.get("families"),
        "parameter_size": details.get("parameter_size"),
        "quantization_level": details.get("quantization_level"),
        "architecture": arch,
        "embedding_length": _info_value(info, arch, "embedding_length"),
        "context_length": _info_value(info, arch, "context_length"),
        "capabilities": capabilities,
        "embedding": "embedding" in capabilities if show else None,
        "parameters": show.get("parameters") or "",
        "weights_digest": weights_digest(show),
    }


def human_bytes(size: float) -> str:
    for factor, unit in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if size >= factor:
            return "%.1f %s" % (size / factor, unit)
    return "%d B" % size


def _byte_count(doc: Mapping[str, Any], key: str) -> int:
    """doc[key] as a whole number of bytes (0 when absent); ValueError for anything else."""
    value = doc.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("its %s is %s, a %s, not a number of bytes" % (key, _short(value), type(value).__name__))
    if isinstance(value, float) and not value.is_integer():  # inf and nan too
        raise ValueError("its %s is %r, not a whole number of bytes" % (key, value))
    if value < 0 or value > 2 ** 63:
        raise ValueError("its %s is %s, not a number of bytes a model has" % (key, _short(value)))
    return int(value)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class Progress:
    """What a pull or create streamed: the last few distinct steps and the bytes of each layer."""

    def __init__(self, keep: int = 8) -> None:
        self.steps: collections.deque[str] = collections.deque(maxlen=keep)
        # digest -> [first completed, last completed, total]
        self.layers: collections.OrderedDict[str, list[int]] = collections.OrderedDict()
        self.last_status: str | None = None
        self.count = 0

    def add(self, doc: Mapping[str, Any]) -> None:
        """Count one progress line; ValueError when its byte counts are not counts."""
        self.count += 1
        status = str(doc.get("status", ""))
        digest = doc.get("digest")
        if digest and doc.get("total") is not None:
            total = _byte_count(doc, "total")
            completed = _byte_count(doc, "completed")
            layer = self.layers.setdefault(digest, [completed, completed, total])
            layer[1], layer[2] = completed, total
            percent = 100 * completed // total if total else 100
            line = "%s: %d%% of %s" % (status, percent, human_bytes(total))
        else:
            line = status
        if self.steps and status == self.last_status:
            self.steps[-1] = line
        else:
            self.steps.append(line)
        self.last_status = status

    @property
    def succeeded(self) -> bool:
        return self.last_status == "success"

    def summary(self) -> dict[str, Any]:
        pulled = sum(max(0, last - first) for first, last, _total in self.layers.values())
        resumed = sum(first for first, _last, total in self.layers.values() if first < total)
        return {
            "steps": list(self.steps),
            "bytes_pulled": pulled,
            "bytes_resumed": resumed,
            "bytes_total": sum(total for _first, _last, total in self.layers.values()),
            "layers": len(self.layers),
        }


class OllamaAPI:
    """Ollama's REST API at `client.base_url` (the server root, without /v1)."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def explain(self, err: EndpointError) -> EndpointError:
        """Add what an operator of Ollama should check to transport errors."""
        if err.kind == "connection_refused":
            return EndpointError(
                err.kind,
                "connection refused by %s: nothing listens there; is the Ollama container running (docker ps), and "
                "does api_base name the port it publishes (11434 by default)?" % self.base_url,
                url=err.url,
            )
        if err.kind == "http" and err.status == 404 and not error_detail(err.body).startswith("model"):
            return EndpointError(
                "endpoint_not_found",
                "%s: %s does not serve Ollama's API there; api_base must be the Ollama server's root URL, such as "
                "%s, without /v1" % (err.message, self.base_url, DEFAULT_API_BASE),
                url=err.url,
                status=err.status,
                body=err.body,
            )
        return err

    def _request(self, method: str, path: str, payload: Any = None, expect: tuple[int, ...] = (200,),
                 **kwargs: Any) -> HttpResponse:
        try:
            return self.client.request(method, path, json_body=payload, expect=expect, **kwargs)
        except EndpointError as err:
            raise self.explain(err) from err

    def _json(self, method: str, path: str, payload: Any = None, expect: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        response = self._request(method, path, payload, expect)
        return response.status, (response.json() if response.body else {})

    # ---- reading

    def version(self) -> str:
        _status, doc = self._json("GET", "/api/version")
        return str(doc.get("version", "")) if isinstance(doc, dict) else ""

    def list_models(self) -> list[dict[str, Any]]:
        _status, doc = self._json("GET", "/api/tags")
        models = doc.get("models") if isinstance(doc, dict) else None
        if not isinstance(models, list) or not all(isinstance(item, dict) and "name" in item for item in models):
            raise EndpointError(
                "invalid_response",
                "%s/api/tags answered without a models list: is this an Ollama server?" % self.base_url,
                url=self.client.url("/api/tags"),
            )
        return models

    def find(self, name: ModelName, models: Iterable[Mapping[str, Any]] | None = None) -> Mapping[str, Any] | None:
        """The /api/tags entry of `name`, or None."""
        for entry in self.list_models() if models is None else models:
            try:
                if ModelName.parse(entry.get("name") or entry.get("model")) == name:
                    return entry
            except ValueError:
                continue
        return None

    def show(self, name: ModelName) -> Any:
        """/api/show of `name`, or None when the server does not have it."""
        status, doc = self._json("POST", "/api/show", {"model": name.display()}, expect=(200, 404))
        return doc if status == 200 else None

    def running(self) -> Any:
        _status, doc = self._json("GET", "/api/ps")
        return doc.get("models") or [] if isinstance(doc, dict) else []

    def facts(self, name: ModelName, models: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any] | None:
        """The facts of `name` (None when it is not on the server)."""
        entry = self.find(name, models)
        if entry is None:
            return None
        return model_facts(entry, self.show(name))

    # ---- changing

    def _stream(self, path: str, payload: Any, what: str, name: str, progress: Progress) -> Progress:
        stream = stream_ndjson(self.client, "POST", path, json_body=payload)
        while True:
            try:
                doc = next(stream)
            except StopIteration:
                break
            except EndpointError as err:
                raise self._transport_error(err, what, name, progress) from err
            url = self.client.url(path)
            if not isinstance(doc, dict):
                raise EndpointError(
                    "invalid_response", "%s streamed %s, not an object: is this an Ollama server?" % (url, _short(doc)),
                    url=url,
                )
            if "error" in doc:
                raise self._stream_error(what, name, str(doc["error"]), None)
            try:
                progress.add(doc)
            except ValueError as exc:
                raise EndpointError(
                    "invalid_response",
                    "%s streamed a progress line of the %s of %s that Ollama does not send: %s"
                    % (url, what, name, exc),
                    url=url,
                ) from None
        if not progress.succeeded:
            raise EndpointError(
                "invalid_response",
                "the %s of %s ended without 'success' (last step: %r): the connection was cut or the server stopped"
                % (what, name, progress.last_status),
                url=self.client.url(path),
            )
        return progress

    def _transport_error(self, err: EndpointError, what: str, name: str, progress: Progress) -> EndpointError:
        if err.kind == "http" and err.status is not None:
            detail = error_detail(err.body) or err.message
            if err.status == 404 and not detail.startswith("model"):
                return self.explain(err)
            return self._stream_error(what, name, detail, err.status)
        if err.kind in ("connection", "timeout") and progress.count:
            return EndpointError(
                err.kind,
                "%s (after %d progress lines, at %r); the server may still be working: run the task again, a "
                "pull resumes where it stopped" % (err.message, progress.count, progress.last_status),
                url=err.url,
            )
        return self.explain(err)

    def _stream_error(self, what: str, name: str, message: str, status: int | None) -> EndpointError:
        lower = message.lower()
        if status == 400 and "invalid model name" in lower:
            return EndpointError(
                "invalid_name", "Ollama refused the model name %s: %s" % (name, message), status=status
            )
        if any(phrase in lower for phrase in _NO_SPACE_PHRASES):
            return EndpointError(
                "no_space",
                "the Ollama server ran out of disk space during the %s of %s (%s): free space on the volume that "
                "holds Ollama's models (OLLAMA_MODELS, /root/.ollama/models in the container) or remove models "
                "no longer used with state=absent, then run again: the pull resumes" % (what, name, message),
                status=status,
            )
        if what == "pull":
            if any(phrase in lower for phrase in _UNKNOWN_MODEL_PHRASES):
                return EndpointError(
                    "unknown_model",
                    "model %s not found in the registry (Ollama: %s): check the name and tag (the library models are "
                    "listed at https://ollama.com/library; a model outside the library needs its namespace, "
                    "namespace/model:tag)" % (name, message),
                    status=status,
                )
            if "newer version" in lower:
                return EndpointError(
                    "server_too_old",
                    "model %s needs a newer Ollama than the server at %s (%s): upgrade the Ollama image"
                    % (name, self.base_url, message),
                    status=status,
                )
            if any(phrase in lower for phrase in _NETWORK_PHRASES):
                return EndpointError(
                    "registry_unreachable",
                    "the Ollama server at %s could not reach the registry to pull %s (%s); %s"
                    % (self.base_url, name, message, PROXY_HINT),
                    status=status,
                )
            return EndpointError("pull_failed", "pulling %s failed: %s" % (name, message), status=status)
        return EndpointError("create_failed", "creating %s failed: %s" % (name, message), status=status)

    def pull(self, name: ModelName, insecure: bool = False, progress: Progress | None = None) -> Progress:
        """Pull `name` through the server, streaming; returns the Progress. Raises EndpointError."""
        progress = progress or Progress()
        payload: dict[str, Any] = {"model": name.display(), "stream": True}
        if insecure:
            payload["insecure"] = True
        return self._stream("/api/pull", payload, "pull", name.display(), progress)

    def delete(self, name: ModelName) -> bool:
        """Delete `name`; False when the server did not have it."""
        status, _doc = self._json("DELETE", "/api/delete", {"model": name.display()}, expect=(200, 404))
        return status == 200

    def blob_exists(self, digest: str) -> bool:
        response = self._request("HEAD", "/api/blobs/sha256:%s" % normalize_sha256(digest), expect=(200, 404))
        return response.status == 200

    def upload_blob(self, digest: str, path: str) -> bool:
        """POST the file at `path` as the blob `digest`; True when sent, False when the server had it."""
        hex_digest = normalize_sha256(digest)
        size = os.path.getsize(path)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        with open(path, "rb") as handle:
            try:
                response = self.client.request(
                    "POST", "/api/blobs/sha256:%s" % hex_digest, data=handle, headers=headers, expect=(200, 201)
                )
            except EndpointError as err:
                if err.kind == "http" and err.status == 400 and "digest mismatch" in error_detail(err.body):
                    raise EndpointError(
                        "digest_mismatch",
                        "Ollama received %s with another sha256 than it was sent as (%s): the file changed while it "
                        "was uploaded, or something between this host and Ollama altered it; check the file and run "
                        "again" % (path, error_detail(err.body)),
                        url=err.url,
                        status=err.status,
                    ) from err
                raise self.explain(err) from err
        return response.status == 201

    def create(self, name: ModelName, files: Mapping[str, str] | None = None, source: str | None = None,
               parameters: Mapping[str, Any] | None = None, progress: Progress | None = None) -> Progress:
        """/api/create `name` from uploaded blobs ({filename: digest}) or from a local model; returns Progress."""
        payload: dict[str, Any] = {"model": name.display(), "stream": True}
        if files:
            payload["files"] = dict(files)
        if source:
            payload["from"] = source
        if parameters:
            payload["parameters"] = dict(parameters)
        return self._stream("/api/create", payload, "create", name.display(), progress or Progress())

    def embed(self, name: ModelName, inputs: Iterable[str], dimensions: int | None = None, keep_alive: Any = None,
              options: Mapping[str, Any] | None = None, truncate: bool | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": name.display(), "input": list(inputs)}
        for key, value in (("dimensions", dimensions), ("keep_alive", keep_alive), ("options", options),
                           ("truncate", truncate)):
            if value is not None:
                payload[key] = value
        status, doc = self._json("POST", "/api/embed", payload, expect=(200, 404))
        if status == 404:
            raise EndpointError(
                "model_not_found", "%s has no model %s: pull it first" % (self.base_url, name), status=status
            )
        if not isinstance(doc, dict) or not isinstance(doc.get("embeddings"), list):
            raise EndpointError("invalid_response", "/api/embed answered without an embeddings list")
        return doc
