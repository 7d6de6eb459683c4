# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client every module of embedops.embeddings uses.

Built on ansible.module_utils.urls.open_url (proxies from the environment, TLS and CA
handling as the rest of Ansible), so nothing needs installing on the managed host. It has
no dependency on AnsibleModule: benchmarks and command-line tools use it too.

Every failure is raised as EndpointError with a `kind` an operator can act on:
  name_resolution, connection_refused, timeout, tls, connection, http
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from http.client import HTTPException

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

USER_AGENT = "embedops.embeddings"


class EndpointError(Exception):
    """A request that did not produce the expected answer, said in an operator's words."""

    def __init__(self, kind, message, url=None, status=None, body=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.url = url
        self.status = status
        self.body = body

    def to_dict(self):
        return {"kind": self.kind, "message": self.message, "url": self.url, "status": self.status}


class HttpResponse:
    def __init__(self, url, status, headers, body, elapsed):
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise EndpointError(
                "http",
                "%s answered %s with a body that is not JSON: %s" % (self.url, self.status, exc),
                url=self.url,
                status=self.status,
                body=self.body[:500],
            ) from exc


def error_detail(body):
    """Pull the human message out of an error body (OpenAI, vLLM, Ollama and FastAPI shapes)."""
    if not body:
        return ""
    try:
        doc = json.loads(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    except ValueError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return text.strip()[:300]
    if isinstance(doc, dict):
        err = doc.get("error", doc.get("detail", doc.get("message")))
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err is not None:
            return str(err)
    return json.dumps(doc)[:300]


def classify_url_error(url, exc, timeout):
    """Turn the exceptions urllib raises into EndpointError kinds."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        host = url.split("//", 1)[-1].split("/", 1)[0]
        return EndpointError(
            "name_resolution",
            "the name in %s does not resolve (%s): check the host name %s" % (url, reason, host),
            url=url,
        )
    if isinstance(reason, ConnectionRefusedError):
        return EndpointError(
            "connection_refused",
            "connection refused by %s: nothing listens there; is the service running and the port right?" % url,
            url=url,
        )
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return EndpointError("timeout", "no answer from %s within %ss" % (url, timeout), url=url)
    if isinstance(reason, ssl.SSLError):
        return EndpointError("tls", "TLS failed talking to %s: %s" % (url, reason), url=url)
    return EndpointError("connection", "could not talk to %s: %s" % (url, reason), url=url)


class HttpClient:
    """Small JSON-over-HTTP client bound to one base URL."""

    def __init__(self, base_url, api_key=None, timeout=30.0, validate_certs=True, headers=None):
        if "://" not in base_url:
            raise EndpointError(
                "config", "the URL %r has no scheme: write it as http://host:port/..." % base_url, url=base_url
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.headers = dict(headers or {})

    def url(self, path):
        if "://" in path:
            return path
        return "%s/%s" % (self.base_url, path.lstrip("/"))

    def _headers(self, extra, has_json):
        headers = {"Accept": "application/json"}
        if has_json:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = "Bearer %s" % self.api_key
        headers.update(self.headers)
        headers.update(extra or {})
        return headers

    def open(self, method, path, json_body=None, data=None, headers=None, timeout=None):
        """Open a request and return the raw response object (caller reads and closes it).

        HTTP error statuses are returned, not raised: the caller decides what is an error.
        """
        url = self.url(path)
        timeout = self.timeout if timeout is None else timeout
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
        try:
            return open_url(
                url,
                data=data,
                method=method,
                headers=self._headers(headers, json_body is not None),
                timeout=timeout,
                validate_certs=self.validate_certs,
                http_agent=USER_AGENT,
                follow_redirects="safe",
            )
        except HTTPError as exc:
            return exc
        except (URLError, socket.error, ssl.SSLError, HTTPException) as exc:
            raise classify_url_error(url, exc, timeout) from exc

    def request(self, method, path, json_body=None, data=None, headers=None, timeout=None, expect=(200,)):
        """Send a request, read the whole answer, raise EndpointError unless status is in expect."""
        url = self.url(path)
        start = time.monotonic()
        resp = self.open(method, path, json_body=json_body, data=data, headers=headers, timeout=timeout)
        try:
            body = resp.read()
        except (socket.timeout, TimeoutError) as exc:
            raise EndpointError(
                "timeout", "no complete answer from %s within %ss" % (url, timeout or self.timeout), url=url
            ) from exc
        except (socket.error, HTTPException) as exc:
            raise EndpointError(
                "connection", "%s closed the connection before its answer was complete: %s" % (url, exc), url=url
            ) from exc
        finally:
            close = getattr(resp, "close", None)
            if close:
                close()
        status = resp.getcode() if hasattr(resp, "getcode") else resp.code
        result = HttpResponse(
            url, status, dict(resp.headers.items()) if resp.headers else {}, body, time.monotonic() - start
        )
        if expect and status not in expect:
            raise EndpointError(
                "http",
                "%s %s answered HTTP %s: %s" % (method, url, status, error_detail(body) or "(empty body)"),
                url=url,
                status=status,
                body=body[:2000],
            )
        return result

    def get_json(self, path, **kwargs):
        return self.request("GET", path, **kwargs).json()

    def post_json(self, path, payload, **kwargs):
        return self.request("POST", path, json_body=payload, **kwargs).json()

    def download(self, path, fileobj, offset=0, headers=None, timeout=None, chunk_size=1024 * 1024):
        """Stream a GET of path into fileobj; return url, status, size and sha256 of the whole file.

        With offset > 0 the first offset bytes already in fileobj are hashed and a Range header
        asks for the rest (resume). A server that ignores Range (200) restarts the file at byte 0;
        416 (nothing left to send) leaves it as it is. fileobj must be readable, writable and
        seekable ("w+b" or "r+b"). Other statuses raise EndpointError; so does a broken stream,
        after which fileobj holds what arrived, ready to resume from.
        """
        import hashlib

        url = self.url(path)
        timeout = self.timeout if timeout is None else timeout
        extra = {"Accept": "*/*"}
        extra.update(headers or {})
        digest = hashlib.sha256()
        fileobj.seek(0)
        have = 0
        while have < offset:
            chunk = fileobj.read(min(chunk_size, offset - have))
            if not chunk:
                break
            digest.update(chunk)
            have += len(chunk)
        if have:
            extra["Range"] = "bytes=%d-" % have
        resp = self.open("GET", path, headers=extra, timeout=timeout)
        try:
            status = resp.getcode() if hasattr(resp, "getcode") else resp.code
            resp_headers = dict((k.lower(), v) for k, v in resp.headers.items()) if resp.headers else {}
            if status == 416 and have:
                return {"url": url, "status": status, "size": have, "sha256": digest.hexdigest(), "resumed": True}
            if status == 206 and not resp_headers.get("content-range", "").startswith("bytes %d-" % have):
                raise EndpointError(
                    "http",
                    "%s answered a range that does not start at byte %d: %s"
                    % (url, have, resp_headers.get("content-range")),
                    url=url,
                    status=status,
                )
            if status not in (200, 206):
                body = resp.read(2000)
                raise EndpointError(
                    "http",
                    "GET %s answered HTTP %s: %s" % (url, status, error_detail(body) or "(empty body)"),
                    url=url,
                    status=status,
                    body=body,
                )
            if status == 200:
                digest, have = hashlib.sha256(), 0
            fileobj.seek(have)
            fileobj.truncate()
            size = have
            while True:
                try:
                    chunk = resp.read(chunk_size)
                except (socket.timeout, TimeoutError):
                    raise EndpointError(
                        "timeout", "no data from %s for %ss (stopped after %d bytes)" % (url, timeout, size), url=url
                    ) from None
                except (OSError, ssl.SSLError, HTTPException) as exc:
                    raise classify_url_error(url, exc, timeout) from exc
                if not chunk:
                    break
                fileobj.write(chunk)  # a full disk raises OSError(ENOSPC) here, not a network error
                digest.update(chunk)
                size += len(chunk)
            fileobj.flush()
            # http.client's read(amt) ends quietly when the connection drops before Content-Length
            # bytes arrived: count them, so a cut download is resumed rather than taken as whole.
            announced = resp_headers.get("content-length", "")
            if announced.isdigit() and size - have < int(announced):  # have: 0 after a 200
                raise EndpointError(
                    "connection",
                    "the connection to %s closed after %d of %d bytes" % (url, size - have, int(announced)),
                    url=url,
                )
        finally:
            close = getattr(resp, "close", None)
            if close:
                close()
        return {"url": url, "status": status, "size": size, "sha256": digest.hexdigest(), "resumed": status == 206}


def iter_ndjson(resp, url, timeout=None):
    """Yield the JSON documents of an NDJSON (newline-delimited JSON) answer, one per line, as they arrive.

    For streamed answers such as Ollama's /api/pull. `resp` is what HttpClient.open returned; it is
    closed when the generator ends. Blank lines are skipped. A line that is not a JSON document
    raises EndpointError("invalid_response"); a read that times out raises EndpointError("timeout")
    (`timeout` only words the message: the limit is the one the request was opened with) and a
    broken connection EndpointError("connection").
    """
    try:
        while True:
            try:
                line = resp.readline()
            except (socket.timeout, TimeoutError):
                raise EndpointError(
                    "timeout", "%s sent nothing for %ss while streaming its answer" % (url, timeout), url=url
                ) from None
            except (OSError, ssl.SSLError, HTTPException) as exc:
                raise EndpointError(
                    "connection", "%s closed the connection in the middle of its answer: %s" % (url, exc), url=url
                ) from exc
            if not line:
                return
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise EndpointError(
                    "invalid_response",
                    "%s streamed a line that is not JSON (%s): %r" % (url, exc, line[:200]),
                    url=url,
                    body=line[:2000],
                ) from exc
    finally:
        close = getattr(resp, "close", None)
        if close:
            close()


def stream_ndjson(client, method, path, json_body=None, headers=None, timeout=None, expect=(200,)):
    """Send a request with `client` (an HttpClient) and yield its NDJSON answer line by line.

    A status not in `expect` raises EndpointError("http") with the server's message, as
    HttpClient.request does. Nothing is sent until the first document is asked for.
    """
    url = client.url(path)
    timeout = client.timeout if timeout is None else timeout
    extra = {"Accept": "application/x-ndjson, application/json"}
    extra.update(headers or {})
    resp = client.open(method, path, json_body=json_body, headers=extra, timeout=timeout)
    status = resp.getcode() if hasattr(resp, "getcode") else resp.code
    if expect and status not in expect:
        try:
            body = resp.read(2000)
        except (OSError, HTTPException):
            body = b""
        finally:
            close = getattr(resp, "close", None)
            if close:
                close()
        raise EndpointError(
            "http",
            "%s %s answered HTTP %s: %s" % (method, url, status, error_detail(body) or "(empty body)"),
            url=url,
            status=status,
            body=body,
        )
    yield from iter_ndjson(resp, url, timeout)
