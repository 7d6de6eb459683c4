# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""URLs of the collection's endpoints, built in one place: the wildcard bind addresses, IPv6 brackets, TLS.

A service bound to a wildcard address (0.0.0.0, ::) is reached on the same host through loopback and from
other hosts through the host's own address; every role and playbook asks these functions instead of
rewriting the rule.
"""

from __future__ import annotations

import ipaddress
from typing import Any

WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1", "": "127.0.0.1"}  # noqa: S104 - names them


def is_wildcard(address: Any) -> bool:
    return str(address if address is not None else "").strip() in WILDCARDS


def url_host(host: Any) -> str:
    """`host` as it goes into a URL: an IPv6 literal in brackets, anything else as it is."""
    host = str(host).strip()
    if host.startswith("[") and host.endswith("]"):
        return host
    try:
        if ipaddress.ip_address(host.split("%", 1)[0]).version == 6:
            return "[%s]" % host
    except ValueError:
        pass
    return host


def advertise_host(bind_address: Any, fallback: Any) -> str:
    """The address other hosts use: the bind address, or `fallback` (the host's own) when it is a wildcard."""
    if is_wildcard(bind_address):
        if not fallback:
            raise ValueError("the service binds to a wildcard address (%r) and no address to advertise was given"
                             % bind_address)
        return str(fallback)
    return str(bind_address)


def _port(port: Any) -> int:
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise ValueError("port %r is not a number" % (port,)) from None
    if not 0 < number < 65536:
        raise ValueError("port %d is outside 1-65535" % number)
    return number


def listen_address(host: Any, port: Any) -> str:
    """`host`:`port` as a server's listen flag takes it (Prometheus, Alertmanager, the node exporter): an IPv6
    literal in brackets, a wildcard kept as it is (the server listens on every address)."""
    return "%s:%d" % (url_host("" if host is None else host), _port(port))


def endpoint_url(host: Any, port: Any, tls: bool = False, path: Any = "/v1", local: bool = False) -> str:
    """The URL of an endpoint on `host`:`port`. With `local`, a wildcard host becomes loopback (the same host
    reaching its own service); otherwise a wildcard is refused, since no other host can reach it."""
    host = "" if host is None else str(host).strip()
    if is_wildcard(host):
        if not local:
            raise ValueError("%r is a wildcard bind address, not an address a client can reach: pass the host's "
                             "advertised address, or local=true on the host itself" % host)
        host = WILDCARDS[host]
    number = _port(port)
    path = "" if not path else ("/" + str(path).lstrip("/"))
    return "%s://%s:%d%s" % ("https" if tls else "http", url_host(host), number, path)
