# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client every module of embedops.embeddings uses.

Built on ansible.module_utils.urls.open_url (proxies from the environment, TLS and CA
handling as the rest of Ansible), so nothing needs installing on the managed host. It has
no dependency on AnsibleModule: benchmarks and command-line tools use it too.

Every failure is raised as EndpointError with a `kind` an operator can act on:
  name_resolution, connection_refused, timeout, tls, connection, http, config, invalid_response

What a server can make the client do is bounded, since a module may be pointed at a server that
misbehaves or is hostile:
- Only http:// and https:// URLs are fetched (urllib alone would read file:// and ftp://): any other
  scheme, in the URL or in a redirect, is refused.
- The API key, and any Authorization, Proxy-Authorization or Cookie header, goes only to the origin
  (scheme, host, port) of the URL it was given for. A client made with follow_redirects=False (what
  the modules that call an API use) follows no redirect at all: a 3xx is a failure (kind http) that
  names the address it points to. With follow_redirects=True (the default, for package indexes whose
  files live elsewhere) GET and HEAD follow up to MAX_REDIRECTS http(s) redirects, never from https
  down to http, and drop those headers once the origin changes.
- `timeout` is a deadline for the whole request: connecting, sending, the status line and headers
  and the whole body must be done within it (an upload, data being a file object, is limited per
  socket operation while it is sent, since its length scales with the file). Streamed answers
  (NDJSON, downloads) are limited per line or per read instead, so long legitimate streams work.
- An answer body larger than max_response_bytes (DEFAULT_MAX_RESPONSE_BYTES) fails as
  invalid_response without being read in full; so does a streamed line longer than MAX_LINE_BYTES.
- A JSON document nested too deep to parse is "not JSON", not a RecursionError.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from http.client import HTTPException
from typing import IO, Any, Callable, Collection, Iterator, Optional, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

USER_AGENT = "embedops.embeddings"
# The largest answer body request() reads: a batch of 256 embeddings of 4096 dimensions sent as JSON floats
# is about 21 MB; nothing else the collection asks for comes near it.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# The longest line of a streamed NDJSON answer (an Ollama progress line is about 200 bytes).
MAX_LINE_BYTES = 1024 * 1024
MAX_REDIRECTS = 10
ALLOWED_SCHEMES = ("http", "https")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Headers that carry credentials: sent only to the origin they were given for.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
_READ_SIZE = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_T = TypeVar("_T")
# What urllib's open_url returns, or the HTTPError it raised for an error status: read, readline, headers, close.
Response = Any
# Extra request headers a caller passes.
Headers = Optional[dict[str, str]]


class EndpointError(Exception):
    """A request that did not produce the expected answer, said in an operator's words."""

    # Set on some errors only, so read with getattr(err, name, default): the seconds an HTTP 429 asks to wait and
    # whether that wait passes the caller's deadline (openai_embeddings), the cosines of a failed reference check
    # and the pairs of a failed agreement check (reference_vectors).
    retry_after: float | None
    wait_exceeds_deadline: bool
    cosines: list[float]
    pairs: list[dict[str, Any]]

    def __init__(
        self, kind: str, message: str, url: str | None = None, status: int | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.url = url
        self.status = status
        self.body = body

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "url": self.url, "status": self.status}


class HttpResponse:
    def __init__(self, url: str, status: int, headers: dict[str, str], body: bytes, elapsed: float) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EndpointError(
                "http",
                "%s answered %s with a body that is not JSON: %s" % (self.url, self.status, _json_problem(exc)),
                url=self.url,
                status=self.status,
                body=self.body[:500],
            ) from exc


def _json_problem(exc: BaseException) -> str:
    """What is wrong with a document json.loads refused, in words."""
    if isinstance(exc, RecursionError):
        return "it is nested too deep to read"
    return str(exc)


def public_url(url: str) -> str:
    """`url` without its user:password@ part, for messages and results."""
    if not url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def url_secrets(*urls: Any) -> set[str]:
    """The passwords in the user:password@ part of `urls` (as written and decoded), for AnsibleModule.no_log_values:
    masked in everything a module returns, its `invocation` included (ansible-core 2.20 and older add it to every
    result, with the arguments as given)."""
    secrets = set()
    for url in urls:
        netloc = urlsplit(str(url or "")).netloc
        userinfo = netloc.rsplit("@", 1)[0] if "@" in netloc else ""
        password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
        if password:
            secrets.update({password, unquote(password)})
    return secrets


def url_origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`: where credentials given for it may go."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def check_scheme(url: str) -> None:
    """Raise EndpointError("config") unless `url` is http:// or https://."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise EndpointError(
            "config",
            "refusing to fetch %s: only http:// and https:// URLs are fetched, not %s"
            % (public_url(url), "%s://" % scheme if scheme else "a URL without a scheme"),
            url=public_url(url),
        )


def response_status(resp: Response) -> int:
    return resp.getcode() if hasattr(resp, "getcode") else resp.code


def _response_header(resp: Response, name: str) -> str | None:
    headers = getattr(resp, "headers", None)
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _close(resp: Response) -> None:
    """Close resp, unless a reading thread the caller stopped waiting for still owns it (and will close it)."""
    if not getattr(resp, "embedops_read_elsewhere", False):
        _close_now(resp)


def _hand_over(resp: Response) -> None:
    """Leave resp to the thread still reading it: closing it here would wait for that read to end."""
    with contextlib.suppress(AttributeError):
        resp.embedops_read_elsewhere = True


def _close_now(resp: Response) -> None:
    close = getattr(resp, "close", None)
    if close:
        with contextlib.suppress(OSError, HTTPException, ValueError):
            close()


class _Overdue(Exception):
    """The work given to _within did not end in time."""


def _within(
    seconds: float, work: Callable[[threading.Event], _T], abandon: Callable[[Any], object] | None = None
) -> _T:
    """work(cancelled) run in a helper thread; its result, or _Overdue when it takes longer than `seconds`.

    urllib gives no deadline for a whole request: its timeout bounds each socket operation, so a server
    that sends a byte now and then holds it for ever. The work runs in a daemon thread the caller waits
    for; past the deadline the caller goes on, `cancelled` (a threading.Event) is set for the work to
    stop at its next chance, and abandon(result) gets what the work returns late (to close it). The
    caller never touches the work's objects meanwhile: closing a response another thread reads blocks.
    """
    box: dict[str, Any] = {}
    done = threading.Event()
    cancelled = threading.Event()
    lock = threading.Lock()

    def run() -> None:
        value: _T | None
        try:
            value = work(cancelled)
        except BaseException as exc:  # handed to the caller below; a thread must not print it  # noqa: B036
            value = None
            box["error"] = exc
        with lock:
            box["value"] = value
            done.set()
            late = cancelled.is_set()
        if late and abandon:
            abandon(value)

    thread = threading.Thread(target=run, name="embedops-http", daemon=True)
    thread.start()
    done.wait(max(0.0, seconds))
    with lock:
        if not done.is_set():
            cancelled.set()
            raise _Overdue()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _with_userinfo(target: str, url: str) -> str:
    """target with the user:password@ of url, when url has one and target none (the same origin only)."""
    given = urlsplit(url)
    parts = urlsplit(target)
    if "@" not in given.netloc or "@" in parts.netloc:
        return target
    return urlunsplit(parts._replace(netloc="%s@%s" % (given.netloc.rsplit("@", 1)[0], parts.netloc)))


def _read_some(resp: Response, size: int) -> bytes:
    """At most `size` bytes of the body, from at most one read of the network when the response allows it."""
    read1 = getattr(resp, "read1", None)
    return read1(size) if read1 is not None else resp.read(size)


def read_capped(resp: Response, url: str, max_bytes: int, cancelled: threading.Event | None = None) -> bytes:
    """The whole body of `resp`; EndpointError("invalid_response") once it passes max_bytes.

    A body announced larger (Content-Length) is refused before any of it is read. `cancelled`: an Event that
    stops the reading (the caller gave up waiting).
    """
    announced = _response_header(resp, "Content-Length") or ""
    if announced.strip().isdigit() and int(announced) > max_bytes:
        raise too_large_error(url, max_bytes, "announces %s bytes" % announced.strip())
    chunks: list[bytes] = []
    size = 0
    while cancelled is None or not cancelled.is_set():
        chunk = _read_some(resp, min(_READ_SIZE, max_bytes + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise too_large_error(url, max_bytes, "sent more")
        chunks.append(chunk)
    return b"".join(chunks)


def too_large_error(url: str, max_bytes: int, what: str) -> EndpointError:
    return EndpointError(
        "invalid_response",
        "%s answered with a body larger than the %d bytes (%s) the client reads (it %s): no answer of this API is "
        "that large; check that the URL names the right server" % (public_url(url), max_bytes, _size(max_bytes), what),
        url=public_url(url),
    )


def _size(count: int) -> str:
    for factor, unit in ((1024 ** 3, "GiB"), (1024 ** 2, "MiB"), (1024, "KiB")):
        if count >= factor:
            return "%g %s" % (round(count / factor, 1), unit)
    return "%d B" % count


def error_detail(body: bytes | str | None) -> str:
    """Pull the human message out of an error body (OpenAI, vLLM, Ollama and FastAPI shapes)."""
    if not body:
        return ""
    try:
        doc = json.loads(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    except (ValueError, RecursionError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return text.strip()[:300]
    if isinstance(doc, dict):
        err = doc.get("error", doc.get("detail", doc.get("message")))
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err is not None:
            return str(err)
    return json.dumps(doc)[:300]


def classify_url_error(url: str, exc: BaseException, timeout: float | None) -> EndpointError:
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
    """Small JSON-over-HTTP client bound to one base URL.

    follow_redirects: False for API calls (a 3xx fails, naming where it points); True (the default) follows
    GET and HEAD redirects, sending credentials only to the origin of the URL they were given for.
    max_response_bytes: the largest answer body request() reads.
    """

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0, validate_certs: bool = True,
                 headers: Headers = None, follow_redirects: bool = True,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        if "://" not in base_url:
            raise EndpointError(
                "config", "the URL %r has no scheme: write it as http://host:port/..." % base_url, url=base_url
            )
        check_scheme(base_url)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.headers = dict(headers or {})
        self.follow_redirects = follow_redirects
        self.max_response_bytes = max_response_bytes

    def url(self, path: str) -> str:
        if "://" in path:
            return path
        return "%s/%s" % (self.base_url, path.lstrip("/"))

    def _headers(self, extra: Headers, has_json: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if has_json:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = "Bearer %s" % self.api_key
        headers.update(self.headers)
        headers.update(extra or {})
        return headers

    def _prepare(self, json_body: Any, data: Any, headers: Headers) -> tuple[Any, dict[str, str]]:
        """The bytes (or file object) to send and the headers to send them with."""
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
        return data, self._headers(headers, json_body is not None)

    def open(self, method: str, path: str, json_body: Any = None, data: Any = None, headers: Headers = None,
             timeout: float | None = None) -> Response:
        """Open a request and return the raw response object (caller reads and closes it).

        HTTP error statuses are returned, not raised: the caller decides what is an error. Connecting, sending
        and receiving the status line and headers, through every redirect followed, must end within `timeout`
        seconds (an upload of a file object is limited per socket operation instead); the body is the caller's.
        """
        url = self.url(path)
        timeout = self.timeout if timeout is None else timeout
        check_scheme(url)
        data, sent = self._prepare(json_body, data, headers)
        if hasattr(data, "read"):  # an upload: its length scales with the file, so no overall deadline
            return self._open_chain(method, url, data, sent, timeout, None, threading.Event())
        deadline = time.monotonic() + timeout
        try:
            return _within(
                timeout,
                lambda cancelled: self._open_chain(method, url, data, sent, timeout, deadline, cancelled),
                abandon=_close,
            )
        except _Overdue:
            raise EndpointError(
                "timeout", "no answer from %s within %ss" % (public_url(url), timeout), url=public_url(url)
            ) from None

    def _open_chain(self, method: str, url: str, data: Any, headers: dict[str, str], timeout: float,
                    deadline: float | None, cancelled: threading.Event) -> Response:
        """Open url, following the redirects the client allows; the response that is not a redirect."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            per_operation = timeout if deadline is None else max(0.001, deadline - time.monotonic())
            try:
                resp = open_url(
                    current,
                    data=data,
                    method=method,
                    headers=headers,
                    timeout=per_operation,
                    validate_certs=self.validate_certs,
                    http_agent=USER_AGENT,
                    follow_redirects="none",  # followed below, where the credentials are dealt with
                    unredirected_headers=[name for name in headers if name.lower() in CREDENTIAL_HEADERS],
                )
            except HTTPError as exc:
                resp = exc
            except (URLError, socket.error, ssl.SSLError, HTTPException) as exc:
                raise classify_url_error(public_url(current), exc, timeout) from exc
            status = response_status(resp)
            location = _response_header(resp, "Location") if status in REDIRECT_STATUSES else None
            if not location:
                return resp
            _close(resp)
            target = urljoin(current, location.strip())
            self._check_redirect(method, url, current, target, status)
            if cancelled.is_set():
                raise _Overdue()
            if url_origin(target) != url_origin(url):
                headers = dict((name, value) for name, value in headers.items()
                               if name.lower() not in CREDENTIAL_HEADERS and name not in self.headers)
            else:
                target = _with_userinfo(target, url)
            current = target
        raise EndpointError(
            "http",
            "%s %s redirected more than %d times (last to %s): set the URL to the final address"
            % (method, public_url(url), MAX_REDIRECTS, public_url(current)),
            url=public_url(url),
        )

    def _check_redirect(self, method: str, url: str, current: str, target: str, status: int) -> None:
        """Raise EndpointError("http") for a redirect the client does not follow."""
        scheme = urlsplit(target).scheme.lower()
        problem = None
        if not self.follow_redirects:
            problem = (
                "API calls do not follow redirects (an API key would go along to wherever they point): if that "
                "address is the right server, set the URL to the final address instead of %s" % public_url(url)
            )
        elif method not in ("GET", "HEAD"):
            problem = "a %s is not sent on to another address: set the URL to the final address" % method
        elif scheme not in ALLOWED_SCHEMES:
            problem = "only http:// and https:// addresses are fetched"
        elif urlsplit(current).scheme.lower() == "https" and scheme == "http":
            problem = "a redirect from https:// down to plain http:// is not followed: set the URL to the address " \
                "meant, or make the server redirect to https://"
        if problem:
            raise EndpointError(
                "http",
                "%s %s answered HTTP %s, a redirect to %s; %s"
                % (method, public_url(current), status, public_url(target), problem),
                url=public_url(current),
                status=status,
            )

    def request(self, method: str, path: str, json_body: Any = None, data: Any = None, headers: Headers = None,
                timeout: float | None = None, expect: Collection[int] = (200,),
                max_bytes: int | None = None) -> HttpResponse:
        """Send a request, read the whole answer, raise EndpointError unless status is in expect.

        The whole request (connecting, sending, and the answer to its last byte) must end within `timeout`
        seconds; for an upload (data a file object) that clock starts once it is sent. An answer body over
        `max_bytes` (the client's max_response_bytes by default) fails as invalid_response.
        """
        url = self.url(path)
        timeout = self.timeout if timeout is None else timeout
        max_bytes = self.max_response_bytes if max_bytes is None else max_bytes
        start = time.monotonic()

        def read_answer(resp: Response, cancelled: threading.Event) -> tuple[Response, bytes]:
            try:
                return resp, read_capped(resp, url, max_bytes, cancelled)
            except (socket.timeout, TimeoutError):
                raise EndpointError(
                    "timeout", "no complete answer from %s within %ss" % (public_url(url), timeout), url=url
                ) from None
            except (OSError, ssl.SSLError, HTTPException) as exc:
                raise EndpointError(
                    "connection",
                    "%s closed the connection before its answer was complete: %s" % (public_url(url), exc),
                    url=url,
                ) from exc
            finally:
                _close(resp)

        if hasattr(data, "read"):  # an upload, limited per socket operation while it is sent
            opened = self.open(method, path, json_body=json_body, data=data, headers=headers, timeout=timeout)

            def work(cancelled: threading.Event) -> tuple[Response, bytes]:
                return read_answer(opened, cancelled)
        else:
            check_scheme(url)
            deadline = start + timeout
            data, sent = self._prepare(json_body, data, headers)

            def work(cancelled: threading.Event) -> tuple[Response, bytes]:
                return read_answer(self._open_chain(method, url, data, sent, timeout, deadline, cancelled), cancelled)
        try:
            resp, body = _within(timeout, work)
        except _Overdue:
            raise EndpointError(
                "timeout", "no complete answer from %s within %ss" % (public_url(url), timeout), url=url
            ) from None
        status = response_status(resp)
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

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post_json(self, path: str, payload: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json_body=payload, **kwargs).json()

    def download(self, path: str, fileobj: IO[bytes], offset: int = 0, headers: Headers = None,
                 timeout: float | None = None, chunk_size: int = 1024 * 1024) -> dict[str, Any]:
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
            status = response_status(resp)
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
                body = read_error_body(resp, timeout)
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
            _close(resp)
        return {"url": url, "status": status, "size": size, "sha256": digest.hexdigest(), "resumed": status == 206}


def read_error_body(resp: Response, timeout: float, limit: int = 2000) -> bytes:
    """The first `limit` bytes of an error answer, b"" when they do not come within `timeout`; closes resp."""
    try:
        return _within(timeout, lambda cancelled: resp.read(limit), abandon=lambda _body: _close_now(resp)) or b""
    except _Overdue:
        _hand_over(resp)
        return b""
    except (OSError, ssl.SSLError, HTTPException):
        return b""
    finally:
        _close(resp)


def iter_ndjson(
    resp: Response, url: str, timeout: float | None = None, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Any]:
    """Yield the JSON documents of an NDJSON (newline-delimited JSON) answer, one per line, as they arrive.

    For streamed answers such as Ollama's /api/pull. `resp` is what HttpClient.open returned; it is
    closed when the generator ends. Blank lines are skipped. A line that is not a JSON document, or
    longer than max_line_bytes, raises EndpointError("invalid_response"); a broken connection
    EndpointError("connection"). With `timeout`, each line must arrive whole within `timeout` seconds
    of the one before, or EndpointError("timeout") is raised: a server that falls silent, or sends
    bytes without ever ending a line, is cut; a stream that keeps sending lines may last as long as it
    needs (a pull of a large model).
    """
    public = public_url(url)
    try:
        while True:
            try:
                if timeout:
                    line = _within(
                        timeout,
                        lambda cancelled: resp.readline(max_line_bytes + 1),
                        abandon=lambda _line: _close_now(resp),
                    )
                else:
                    line = resp.readline(max_line_bytes + 1)
            except _Overdue:
                _hand_over(resp)  # the reading thread closes it when its read ends
                raise EndpointError(
                    "timeout", "%s sent no complete line for %ss while streaming its answer" % (public, timeout),
                    url=url,
                ) from None
            except (socket.timeout, TimeoutError):
                raise EndpointError(
                    "timeout", "%s sent nothing for %ss while streaming its answer" % (public, timeout), url=url
                ) from None
            except (OSError, ssl.SSLError, HTTPException) as exc:
                raise EndpointError(
                    "connection", "%s closed the connection in the middle of its answer: %s" % (public, exc), url=url
                ) from exc
            if not line:
                return
            if len(line) > max_line_bytes:
                raise EndpointError(
                    "invalid_response",
                    "%s streamed a line longer than %d bytes (%s): no line of this API is that long; check that "
                    "the URL names the right server" % (public, max_line_bytes, _size(max_line_bytes)),
                    url=url,
                )
            line = line.strip()
            if not line:
                continue
            try:
                doc = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise EndpointError(
                    "invalid_response",
                    "%s streamed a line that is not JSON (%s): %r" % (public, _json_problem(exc), line[:200]),
                    url=url,
                    body=line[:2000],
                ) from exc
            yield doc
    finally:
        _close(resp)


def stream_ndjson(client: HttpClient, method: str, path: str, json_body: Any = None, headers: Headers = None,
                  timeout: float | None = None, expect: Collection[int] = (200,)) -> Iterator[Any]:
    """Send a request with `client` (an HttpClient) and yield its NDJSON answer line by line.

    A status not in `expect` raises EndpointError("http") with the server's message, as
    HttpClient.request does. Nothing is sent until the first document is asked for. `timeout` bounds
    the opening (connection, status line, headers) and then each line, not the whole stream.
    """
    url = client.url(path)
    timeout = client.timeout if timeout is None else timeout
    extra = {"Accept": "application/x-ndjson, application/json"}
    extra.update(headers or {})
    resp = client.open(method, path, json_body=json_body, headers=extra, timeout=timeout)
    status = response_status(resp)
    if expect and status not in expect:
        body = read_error_body(resp, timeout)
        raise EndpointError(
            "http",
            "%s %s answered HTTP %s: %s" % (method, url, status, error_detail(body) or "(empty body)"),
            url=url,
            status=status,
            body=body,
        )
    yield from iter_ndjson(resp, url, timeout)
