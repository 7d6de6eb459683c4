"""What the gateway refuses, with the real HAProxy of the converged scenario: request bodies over the limit
whatever their framing, and API keys matched whole, with the scheme in any case. Then a second gateway from
the same role with TLS on (self-signed certificate, keys made of every character a bearer token may hold): plain
HTTP is not published by default, or only redirects to HTTPS when asked to. Last, that gateway in front of two
models, a pool each (the replicas' model on one replica, its alias on the other): the official client reaches each
pool by its name, an unknown model gets OpenAI's 404, a request without a model 400.

Runs on the controller, like test_gateway.py (the instances share the host network)."""

import csv
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest

GATEWAY_PORT = 18380
CLIENT_KEY = "molecule-client-key-51a0"
MODEL = "all-minilm-l6-v2"

# The second gateway, TLS on: its own container, folders and ports (see host_vars/embedops-gw-edge.yml for the first).
REPLICAS = ("molecule-gw-vllm-0", "molecule-gw-vllm-1")
TLS_CONTAINER = "molecule-gateway-tls"
TLS_DIRS = ("/var/lib/embedops-molecule/gateway-tls", "/var/lib/embedops-molecule/gateway-tls-run")
TLS_HTTP_PORT, TLS_PORT = 18381, 18443
# Valid RFC 6750 tokens, with every character that is not a letter or a digit: - . _ ~ + / and = padding.
TLS_KEYS = ["Ab0-._~+/Zz9==", "molecule+tls/key~2.x_y-z="]

PLAY = """
- name: A second gateway, TLS on
  hosts: gateway_hosts
  gather_facts: false
  roles:
    - role: embedops.embeddings.gateway
  post_tasks:
    - name: The endpoint the role published
      ansible.builtin.copy:
        content: "{{ gateway_endpoint }}"
        dest: "%s"
        mode: "0644"
      delegate_to: localhost
"""


def body_of(size):
    """A JSON embedding request of about `size` bytes (one long input)."""
    head, tail = b'{"model": "%s", "input": "' % MODEL.encode(), b'"}'
    return head + b"a" * max(1, size - len(head) - len(tail)) + tail


def send_chunked(body, chunk=65536, authorization="Bearer " + CLIENT_KEY, port=GATEWAY_PORT):
    """POST `body` with Transfer-Encoding: chunked on a raw socket; (status line, bytes sent, response body).

    The response is read while the body is still being sent: a gateway that refuses the request answers before
    the client is done, and closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    responses = []

    def read():
        data = b""
        try:
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                data += part
                head, sep, rest = data.partition(b"\r\n\r\n")
                length = [line.split(b":", 1)[1] for line in head.lower().split(b"\r\n")
                          if line.startswith(b"content-length:")]
                if sep and length and len(rest) >= int(length[0]):
                    break
        except OSError:
            pass
        responses.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % authorization.encode())
        for start in range(0, len(body), chunk):
            part = body[start:start + chunk]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            sent += len(part)
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the gateway refused the request and closed: its answer is what counts
    reader.join(timeout=90)
    sock.close()
    data = responses[0] if responses else b""
    return data.split(b"\r\n", 1)[0].decode(errors="replace"), sent, data.partition(b"\r\n\r\n")[2]


def post(url, authorization, context=None, body=None):
    """(status, body) of a POST /embeddings; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body or body_of(60), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# ---- request size whatever the framing (M4)


@pytest.mark.parametrize("size", [200_000, 20_000_000], ids=["200KB-over-the-buffer", "20MB-over-the-limit"])
def test_chunked_body_over_the_limit_refused_with_413(size):
    """Without Content-Length the body is measured in the gateway's buffer (64 KiB): one that does not fit whole
    is refused there, not streamed to a replica (which answered these before: 400, input too long)."""
    status, sent, answer = send_chunked(body_of(size))
    assert status == "HTTP/1.1 413 Payload Too Large", (status, answer[:300])
    assert b"413 Payload Too Large" in answer  # HAProxy's page, not a replica's JSON
    print(f"\n[chunked {size} bytes] {status} after {sent} bytes sent")


def test_small_chunked_request_still_served():
    status, _sent, answer = send_chunked(body_of(200), chunk=64)
    assert status == "HTTP/1.1 200 OK", (status, answer[:300])
    assert len(json.loads(answer)["data"][0]["embedding"]) == 384


# ---- the Authorization header matched whole, the scheme in any case (L1)


@pytest.mark.parametrize("authorization", ["bearer " + CLIENT_KEY, "BEARER " + CLIENT_KEY, "Bearer   " + CLIENT_KEY],
                         ids=["lower-case-scheme", "upper-case-scheme", "several-spaces"])
def test_bearer_scheme_in_any_case(authorization):
    status, answer = post(f"http://127.0.0.1:{GATEWAY_PORT}/v1/embeddings", authorization)
    assert status == 200, answer[:300]


@pytest.mark.parametrize("headers", [
    [("Authorization", "Bearer %s, Bearer other" % CLIENT_KEY)],
    [("Authorization", "Bearer %s x" % CLIENT_KEY)],
    [("Authorization", CLIENT_KEY)],
    [("Authorization", "Basic " + CLIENT_KEY)],
    [("Authorization", "Bearer wrong-key"), ("Authorization", "Bearer " + CLIENT_KEY)],
], ids=["key-then-comma", "key-then-word", "no-scheme", "basic-scheme", "two-headers"])
def test_only_the_whole_header_authenticates(headers):
    """A comma made HAProxy's req.hdr() compare each part alone: the valid key before it let the request in."""
    conn = http.client.HTTPConnection("127.0.0.1", GATEWAY_PORT, timeout=30)
    conn.putrequest("POST", "/v1/embeddings")
    for name, value in headers + [("Content-Type", "application/json")]:
        conn.putheader(name, value)
    body = body_of(60)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    assert resp.status == 401, resp.read()[:300]
    assert b"invalid_api_key" in resp.read()
    conn.close()


# ---- a second gateway, TLS on (L6), keys with every token character (L1)


def remove_tls_gateway():
    subprocess.run(["docker", "rm", "-f", TLS_CONTAINER], capture_output=True, check=False)
    for path in TLS_DIRS:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory):
    """Runs the gateway role for a second gateway with TLS on; yields a function of gateway_plain_http (None: the
    default) that converges it and returns (the endpoint the role published, an SSL context trusting it)."""
    tmp = tmp_path_factory.mktemp("tls-gateway")
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   capture_output=True, check=True)
    (tmp / "tls.pem").write_bytes(cert.read_bytes() + key.read_bytes())
    context = ssl.create_default_context(cafile=str(cert))
    endpoint_file = tmp / "endpoint"
    (tmp / "play.yml").write_text(PLAY % endpoint_file)
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

    def converge(plain_http=None, **overrides):
        extra = {"gateway_container_name": TLS_CONTAINER, "gateway_data_dir": TLS_DIRS[0],
                 "gateway_runtime_dir": TLS_DIRS[1], "gateway_port": TLS_HTTP_PORT, "gateway_tls_port": TLS_PORT,
                 "gateway_tls_certificate": str(tmp / "tls.pem"), "gateway_api_keys": TLS_KEYS,
                 # This run has no replica facts (the vllm role does not run in it): the replicas by name, on the
                 # scenario's network, at vLLM's container port.
                 "gateway_backends": [{"name": name, "address": "%s:8000" % name} for name in REPLICAS],
                 # and, with no contract to read it from, the model they serve.
                 "gateway_verify_model": MODEL,
                 # The first gateway's exporter holds its port, and its recorded contract stays the host's.
                 "gateway_metrics_port": 0,
                 "gateway_record_contract": False}
        if plain_http:
            extra["gateway_plain_http"] = plain_http
        extra.update(overrides)
        run = subprocess.run([ansible_playbook, "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(tmp / "play.yml"),
                              "-e", json.dumps(extra)], capture_output=True, text=True, timeout=600, check=False)
        # The role's own last step sent an embedding request through the new gateway, over HTTPS.
        assert run.returncode == 0, run.stdout[-4000:]
        return endpoint_file.read_text(), context

    remove_tls_gateway()
    yield converge
    remove_tls_gateway()


def wait_healthy(name, limit=60):
    began = time.monotonic()
    while time.monotonic() - began < limit:
        state = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True,
                                          check=True).stdout)[0]["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return True
        time.sleep(2)
    return False


def test_tls_on_drops_plain_http_by_default(tls_gateway):
    endpoint, context = tls_gateway()
    assert endpoint == f"https://127.0.0.1:{TLS_PORT}/v1"
    info = json.loads(subprocess.run(["docker", "inspect", TLS_CONTAINER], capture_output=True, text=True,
                                     check=True).stdout)[0]
    assert sorted(info["HostConfig"]["PortBindings"]) == ["8443/tcp"], info["HostConfig"]["PortBindings"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", TLS_HTTP_PORT), timeout=5).close()
    # Every key, each made of token characters HAProxy could misread, is accepted whole; a part of one is not.
    for key in TLS_KEYS:
        status, answer = post(endpoint + "/embeddings", "Bearer " + key, context)
        assert status == 200, answer[:300]
        assert len(json.loads(answer)["data"][0]["embedding"]) == 384
    assert post(endpoint + "/embeddings", "Bearer " + TLS_KEYS[0][:-2], context)[0] == 401
    # The configuration as written, checked by this HAProxy; Docker's health check still answers (container loopback).
    check = subprocess.run(["docker", "exec", TLS_CONTAINER, "haproxy", "-c", "-f",
                            "/usr/local/etc/haproxy/haproxy.cfg"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert wait_healthy(TLS_CONTAINER), "Docker's health check of the gateway without plain HTTP never passed"


def test_tls_on_plain_http_redirect(tls_gateway):
    endpoint, context = tls_gateway("redirect")
    assert endpoint == f"https://127.0.0.1:{TLS_PORT}/v1"
    conn = http.client.HTTPConnection("127.0.0.1", TLS_HTTP_PORT, timeout=30)
    conn.request("POST", "/v1/embeddings?x=1", body=body_of(60),
                 headers={"Authorization": "Bearer " + TLS_KEYS[0], "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 308, resp.read()[:300]
    assert resp.getheader("Location") == f"https://127.0.0.1:{TLS_PORT}/v1/embeddings?x=1"
    conn.close()
    with urllib.request.urlopen(f"http://127.0.0.1:{TLS_HTTP_PORT}/gateway/health", timeout=5) as resp:
        assert resp.status == 200
    assert post(endpoint + "/embeddings", "Bearer " + TLS_KEYS[1], context)[0] == 200


# ---- two models behind one gateway, a pool each (issue 19)

ALIAS, SHORT = "text-embedding-3-small", "minilm"  # the replicas' other names (vllm_served_model_aliases in host_vars)


def backend_requests(socket_path):
    """{(backend, server): requests it received} of a gateway, from HAProxy's runtime API ("show stat")."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(socket_path)
        sock.sendall(b"show stat\n")
        data = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    return {(row["pxname"], row["svname"]): int(row["stot"] or 0)
            for row in csv.DictReader(data.lstrip("# ").splitlines())
            if row["pxname"].startswith("replicas") and row["svname"] not in ("FRONTEND", "BACKEND")}


def test_two_models_each_reached_by_its_name_in_a_pool_of_its_own(tls_gateway):
    # The role's own check sent a request for each model through the new gateway.
    endpoint, context = tls_gateway(gateway_backends=[
        {"name": REPLICAS[0], "address": "%s:8000" % REPLICAS[0], "model": MODEL, "aliases": [SHORT]},
        {"name": REPLICAS[1], "address": "%s:8000" % REPLICAS[1], "model": ALIAS}])
    pools = {("replicas_" + MODEL, REPLICAS[0]), ("replicas_" + ALIAS, REPLICAS[1])}
    socket_path = os.path.join(TLS_DIRS[1], "admin.sock")
    before = backend_requests(socket_path)
    assert set(before) == pools, before
    client = openai.OpenAI(base_url=endpoint, api_key=TLS_KEYS[0], max_retries=0, timeout=60,
                           http_client=openai.DefaultHttpxClient(verify=context))
    # The gateway lists every pool's names (a replica would list only what it serves).
    assert sorted(model.id for model in client.models.list()) == sorted([MODEL, SHORT, ALIAS])
    for model in (MODEL, ALIAS, SHORT, ALIAS, ALIAS):  # the alias reaches its model's pool
        assert len(client.embeddings.create(model=model, input=["routed by its model"]).data[0].embedding) == 384
    after = backend_requests(socket_path)
    assert {pool: after[pool] - before[pool] for pool in pools} == {
        ("replicas_" + MODEL, REPLICAS[0]): 2, ("replicas_" + ALIAS, REPLICAS[1]): 3}
    # An unknown model: OpenAI's 404 body, naming it, escaped (a quote in the name stays inside the string).
    with pytest.raises(openai.NotFoundError) as unknown:
        client.embeddings.create(model='text-embedding-4"}', input=["x"])
    assert unknown.value.body["code"] == "model_not_found"
    assert 'text-embedding-4"}' in unknown.value.body["message"]
    # No model at all: 400, and never a replica.
    status, answer = post(endpoint + "/embeddings", "Bearer " + TLS_KEYS[0], context, body=b'{"input": "x"}')
    assert status == 400 and json.loads(answer)["error"]["param"] == "model", answer
    # A body the gateway cannot hold whole cannot be routed: 413, saying what to do.
    status, answer = post(endpoint + "/embeddings", "Bearer " + TLS_KEYS[0], context, body=body_of(100_000))
    assert status == 413 and "fewer or shorter inputs" in json.loads(answer)["error"]["message"], answer[:300]
    assert backend_requests(socket_path) == after
