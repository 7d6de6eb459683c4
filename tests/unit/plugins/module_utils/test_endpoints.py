"""endpoints: the one place that turns bind addresses into URLs."""

from __future__ import annotations

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils.endpoints import (
    advertise_host,
    endpoint_url,
    listen_address,
    url_host,
)


@pytest.mark.parametrize(("host", "port", "kwargs", "url"), [
    ("10.0.0.5", 8000, {}, "http://10.0.0.5:8000/v1"),
    ("embed.example.com", 443, {"tls": True}, "https://embed.example.com:443/v1"),
    ("fd00::5", 8443, {"tls": True}, "https://[fd00::5]:8443/v1"),
    ("[fd00::5]", 8000, {}, "http://[fd00::5]:8000/v1"),
    ("fe80::1%eth0", 8000, {}, "http://[fe80::1%eth0]:8000/v1"),
    ("0.0.0.0", 8000, {"local": True}, "http://127.0.0.1:8000/v1"),
    ("::", 8080, {"local": True, "tls": True}, "https://[::1]:8080/v1"),
    ("127.0.0.1", "8000", {"path": "health"}, "http://127.0.0.1:8000/health"),
    ("127.0.0.1", 8000, {"path": ""}, "http://127.0.0.1:8000"),
])
def test_urls(host, port, kwargs, url):
    assert endpoint_url(host, port, **kwargs) == url


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::"])
def test_a_wildcard_is_no_address_for_another_host(wildcard):
    with pytest.raises(ValueError, match="wildcard bind address"):
        endpoint_url(wildcard, 8000)


@pytest.mark.parametrize("port", [0, 70000, "http"])
def test_bad_ports_are_named(port):
    with pytest.raises(ValueError, match="port"):
        endpoint_url("127.0.0.1", port)


def test_advertise_host():
    assert advertise_host("0.0.0.0", "10.0.0.5") == "10.0.0.5"
    assert advertise_host("::", "fd00::5") == "fd00::5"
    assert advertise_host("10.0.0.7", "10.0.0.5") == "10.0.0.7"
    with pytest.raises(ValueError, match="wildcard"):
        advertise_host("0.0.0.0", "")


def test_url_host_leaves_names_alone():
    assert url_host("gpu-01.internal") == "gpu-01.internal"
    assert url_host("::1") == "[::1]"


@pytest.mark.parametrize(("host", "port", "flag"), [
    ("127.0.0.1", 9090, "127.0.0.1:9090"),
    ("0.0.0.0", "9100", "0.0.0.0:9100"),  # a wildcard stays one: the server listens everywhere
    ("::", 9093, "[::]:9093"),
    ("fd00::31", 9090, "[fd00::31]:9090"),
    ("monitor1.internal", 9090, "monitor1.internal:9090"),
])
def test_listen_address_brackets_ipv6_and_keeps_wildcards(host, port, flag):
    assert listen_address(host, port) == flag


def test_listen_address_refuses_a_port_that_is_none():
    with pytest.raises(ValueError, match="port 0 is outside 1-65535"):
        listen_address("127.0.0.1", 0)
