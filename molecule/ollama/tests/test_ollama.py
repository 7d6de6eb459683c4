"""What an operator checks after deploying the Ollama role: run by Molecule's testinfra verifier.

The server is the Ollama test double (tests/ollama_double), not Ollama: it answers Ollama's API
with deterministic vectors and runs no model. The instance shares the host's network, so the
published ports answer on 127.0.0.1 both inside the instance and here, where the official
openai client runs.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

MODEL = "all-minilm"
LISTED = "all-minilm:latest"
DIMENSION = 384
VOLUME = "molecule-ollama-models"
REPLICAS = {"molecule-ollama-0": 21434, "molecule-ollama-1": 21435}  # name: host port
SCENARIO = Path(__file__).resolve().parent.parent


def docker_inspect(host, name):
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


def container_env(state):
    return dict(e.split("=", 1) for e in state["Config"]["Env"])


def module(host, module_name, **args):
    """Run one of the collection's modules on the instance, as a playbook would.

    testinfra's Ansible backend drops the `failed` key from a failed module's result; a failure
    shows as `error_kind`, which the collection's modules set only when something failed.
    """
    return host.ansible(f"embedops.embeddings.{module_name}", json.dumps(args), check=False)


def client(port):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="ollama", timeout=60)


def run_preflight(extra_vars):
    """The role's preflight alone, in check mode, on the controller (preflight_probe.yml)."""
    playbook = Path(sys.executable).with_name("ansible-playbook")
    command = [
        str(playbook),
        "-i",
        "localhost,",
        str(SCENARIO / "preflight_probe.yml"),
        "--check",
        "--tags",
        "ollama_preflight",
        "-e",
        json.dumps(extra_vars),
    ]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="1")
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_replica_runs_healthy_with_restart_policy(host, name):
    state = docker_inspect(host, name)
    assert state["State"]["Running"]
    assert state["State"]["Health"]["Status"] == "healthy"
    assert state["Config"]["Healthcheck"]["Test"] == ["CMD", "ollama", "list"]  # the image has no curl
    assert state["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_replica_published_on_loopback_only(host, name):
    bindings = docker_inspect(host, name)["HostConfig"]["PortBindings"]
    assert bindings == {"11434/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(REPLICAS[name])}]}


def test_replicas_share_one_model_volume_and_only_replica_0_prunes(host):
    first, second = (docker_inspect(host, name) for name in sorted(REPLICAS))
    for state in (first, second):
        mounts = [m for m in state["Mounts"] if m["Destination"] == "/root/.ollama"]
        assert [(m["Type"], m["Name"], m["RW"]) for m in mounts] == [("volume", VOLUME, True)]
    assert "OLLAMA_NOPRUNE" not in container_env(first)
    assert container_env(second)["OLLAMA_NOPRUNE"] == "1"


def test_environment_from_variables(host):
    env = container_env(docker_inspect(host, "molecule-ollama-0"))
    assert env["OLLAMA_KEEP_ALIVE"] == "-1m"
    assert "OLLAMA_NUM_PARALLEL" not in env  # not set by default: replicas give the throughput


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_model_listed_by_every_replica(host, name):
    result = module(host, "ollama_model_info", api_base=f"http://127.0.0.1:{REPLICAS[name]}")
    assert "error_kind" not in result, result.get("msg")
    assert result["names"] == [LISTED]
    facts = result["models"][0]
    assert facts["embedding_length"] == DIMENSION
    assert "embedding" in facts["capabilities"]


def test_model_present_again_changes_nothing(host):
    result = module(host, "ollama_model", api_base="http://127.0.0.1:21434", name=MODEL)
    assert "error_kind" not in result, result.get("msg")
    assert result["changed"] is False
    assert result["model"]["embedding_length"] == DIMENSION


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_verify_module_reports_384_dimensions(host, name):
    result = module(
        host,
        "embeddings_verify",
        api_base=f"http://127.0.0.1:{REPLICAS[name]}/v1",
        model=MODEL,
        expected_dimension=DIMENSION,
        check_base64=True,
    )
    assert "error_kind" not in result, result.get("msg")
    assert result["dimension"] == DIMENSION


@pytest.mark.parametrize("port", sorted(REPLICAS.values()))
def test_official_client_gets_384_dimensions(port):
    resp = client(port).embeddings.create(model=MODEL, input="a cat sat on the mat", encoding_format="float")
    assert len(resp.data) == 1
    assert len(resp.data[0].embedding) == DIMENSION


def test_batch_of_three_in_order():
    texts = ["a cat sat on the mat", "quantum field theory", "a cat sat on a mat"]
    api = client(REPLICAS["molecule-ollama-0"])
    resp = api.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in resp.data] == [0, 1, 2]
    assert all(len(d.embedding) == DIMENSION for d in resp.data)
    # Each vector is the one its own text gets alone: the order is the inputs' order.
    for text, item in zip(texts, resp.data):
        alone = api.embeddings.create(model=MODEL, input=text, encoding_format="float").data[0].embedding
        assert max(abs(x - y) for x, y in zip(alone, item.embedding)) < 1e-6


def test_replicas_serve_the_same_model():
    """One store, one model: both replicas give the same vector for the same text."""
    first, second = (
        client(port).embeddings.create(model=MODEL, input="same text", encoding_format="float")
        for port in sorted(REPLICAS.values())
    )
    assert max(abs(x - y) for x, y in zip(first.data[0].embedding, second.data[0].embedding)) < 1e-6


def test_base64_default_of_official_client_decodes_to_same_vectors():
    api = client(REPLICAS["molecule-ollama-1"])
    text = "the official client asks for base64"
    as_float = api.embeddings.create(model=MODEL, input=text, encoding_format="float").data[0].embedding
    default = api.embeddings.create(model=MODEL, input=text).data[0].embedding
    assert max(abs(x - y) for x, y in zip(as_float, default)) < 1e-6


def test_the_contract_says_the_context_and_what_a_longer_input_gets(host):
    """The role learns the context (the model's 512 tokens, below the server's 4096) and what Ollama does beyond it
    (the double refuses, as Ollama does since 0.13.5 whatever `truncate` says), and records both for app_env."""
    contract = json.loads(host.file("/etc/ansible/facts.d/embedops_service.fact").content_string)
    assert (contract["backend"], contract["model"]) == ("ollama", MODEL)
    assert (contract["max_input_tokens"], contract["long_input"]) == (512, "refused"), contract


def gateway_servers(field="stot"):
    """{server: field} at the gateway (stot: requests served; status: UP, MAINT...), from HAProxy's runtime API (its
    socket is on the shared path)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect("/var/lib/embedops-molecule/ollama-gateway-run/admin.sock")
        sock.sendall(b"show stat\n")
        data = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    return {row["svname"]: int(row[field]) if field == "stot" else row[field]
            for row in csv.DictReader(data.lstrip("# ").splitlines())
            if row["pxname"] == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")}


def test_the_gateway_spreads_requests_over_both_replicas():
    """The gateway role in front of the Ollama replicas: one endpoint, the same vectors, both replicas used."""
    gateway = openai.OpenAI(base_url="http://127.0.0.1:21480/v1", api_key="unused", timeout=30, max_retries=0)
    direct = client(REPLICAS["molecule-ollama-0"]).embeddings.create(model=MODEL, input="through the gateway",
                                                                     encoding_format="float")
    before = gateway_servers()
    assert sorted(before) == sorted(REPLICAS), before
    for _round in range(8):
        answer = gateway.embeddings.create(model=MODEL, input="through the gateway", encoding_format="float")
        assert max(abs(x - y) for x, y in zip(answer.data[0].embedding, direct.data[0].embedding)) < 1e-6
    after = gateway_servers()
    assert all(after[name] > before[name] for name in REPLICAS), (before, after)


@pytest.mark.parametrize(
    "extra_vars",
    [{"ollama_num_parallel": 4}, {"ollama_extra_env": {"OLLAMA_NUM_PARALLEL": "4"}}],
    ids=["ollama_num_parallel", "ollama_extra_env"],
)
def test_num_parallel_warns_to_use_replicas(extra_vars):
    run = run_preflight(extra_vars)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING: OLLAMA_NUM_PARALLEL is set" in run.stdout
    assert "one request at a time" in run.stdout and "ollama#8778" in run.stdout
    assert "set ollama_replicas" in run.stdout


def test_no_warning_without_num_parallel():
    run = run_preflight({})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING: OLLAMA_NUM_PARALLEL" not in run.stdout


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        ({"ollama_models": []}, "ollama_models is empty"),
        ({"ollama_models": ["bge m3"]}, 'ollama_models: "bge m3" is not a valid Ollama model name'),
        ({"ollama_replicas": 0}, "ollama_replicas must be 1 or more"),
        ({"ollama_replicas": 2, "ollama_ports": [21500, 21500]}, "ollama_ports: port used twice"),
        ({"ollama_port": 70000}, "ollama_port: port 70000 is out of range 1-65535"),
    ],
    ids=["no-models", "bad-name", "no-replicas", "duplicate-ports", "port-range"],
)
def test_preflight_refuses_naming_the_variable(extra_vars, message):
    run = run_preflight(extra_vars)
    assert run.returncode != 0
    assert message in run.stdout + run.stderr, run.stdout + run.stderr


def playbook(name, extra_vars=None):
    """A playbook with this scenario's inventory, through the JSON callback: (return code, the callback's report)."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
               str(name)] + (["-e", json.dumps(extra_vars)] if extra_vars else [])
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_VERBOSITY="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, json.loads(done.stdout[done.stdout.index("{"):]) if "{" in done.stdout else done.stdout


def task_results(report, part):
    """{task name, without its role: changed} of the tasks whose name holds `part`."""
    return {task["task"]["name"].split(" : ", 1)[-1]: any(result.get("changed") for result in task["hosts"].values())
            for play in report["plays"] for task in play["tasks"] if part in task["task"]["name"]}


def test_replicas_recreated_under_load_are_drained_at_the_gateway_first():
    """A setting that recreates both replicas, under steady load through the gateway: each replica is taken out of
    rotation before it goes, and back in once it answers; no request fails, without any client retry."""
    gateway = openai.OpenAI(base_url="http://127.0.0.1:21480/v1", api_key="unused", timeout=30, max_retries=0)
    stop, outcomes = threading.Event(), {"ok": 0, "failed": []}

    def load():
        while not stop.is_set():
            try:
                gateway.embeddings.create(model=MODEL, input="during a rolling change", encoding_format="float")
                outcomes["ok"] += 1
            except openai.OpenAIError as err:
                outcomes["failed"].append(repr(err))

    since = subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"], capture_output=True, text=True,
                           check=True).stdout.strip()
    workers = [threading.Thread(target=load) for _worker in range(2)]
    for worker in workers:
        worker.start()
    try:
        code, report = playbook(SCENARIO / "converge.yml", {"ollama_extra_env": {"EMBEDOPS_ROLL": "1"}})
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert code == 0, report if isinstance(report, str) else json.dumps(report)[-3000:]
    drained = task_results(report, "Server | at each gateway, drained")
    rejoined = task_results(report, "Server | at each gateway, enabled")
    assert drained == {"Server | at each gateway, drained: %s" % name: True for name in REPLICAS}, drained
    assert rejoined == {"Server | at each gateway, enabled: %s" % name: True for name in REPLICAS}, rejoined
    assert outcomes["ok"] > 0 and outcomes["failed"] == [], outcomes
    assert gateway_servers("status") == {name: "UP" for name in REPLICAS}
    # HAProxy's own account: each replica drained, then out for maintenance, then back, one after the other.
    log = subprocess.run(["docker", "logs", "--since", since, "molecule-ollama-gateway"], capture_output=True,
                         text=True, check=True)
    events = [line for line in (log.stdout + log.stderr).splitlines()
              if line.startswith("Server replicas/") and ("drain" in line or "maintenance" in line)]
    expected = []
    for name in REPLICAS:
        expected += ["%s enters drain state" % name, "%s is going DOWN for maintenance" % name,
                     "%s is UP/READY (leaving forced maintenance)" % name]
    assert [next((e for e in expected if e in line), line) for line in events] == expected, events
    # The replicas keep the extra variable: the tests that follow do not read the environment.


def test_health_playbook_reports_both_replicas_and_the_gateway():
    """playbooks/health.yml with this scenario's inventory: one report, Ollama's replicas and the gateway in front."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
               str(SCENARIO.parent.parent / "playbooks" / "health.yml")]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_VERBOSITY="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    result = json.loads(done.stdout[done.stdout.index("{"):])
    reports = [task["hosts"]["localhost"]["msg"] for play in result["plays"] for task in play["tasks"]
               if task["task"]["name"] == "Health of the embedding service"]
    assert done.returncode == 0, reports or done.stdout[-2000:]
    assert reports == [{"molecule-ollama-0": "ok", "molecule-ollama-1": "ok", "gateway embedops-ollama-host": "ok"}]


# --- Open WebUI: the real server, built by the role from PyPI's open-webui, in front of replica 0 (the double) ---
WEBUI = "http://127.0.0.1:21300"
WEBUI_ADMIN = {"name": "Molecule", "email": "molecule@example.com", "password": "molecule-webui-test"}


def webui(path, body=None, token=None):
    """(status, JSON body) of one call to Open WebUI's HTTP API."""
    request = urllib.request.Request(WEBUI + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def webui_token():
    """Log in as the first user, who is Open WebUI's admin: signed up on the first call, signed in after that."""
    credentials = {key: WEBUI_ADMIN[key] for key in ("email", "password")}
    status, doc = webui("/api/v1/auths/signin", credentials)
    if status != 200:
        status, doc = webui("/api/v1/auths/signup", WEBUI_ADMIN)
    assert status == 200, doc
    assert doc["role"] == "admin"
    return doc["token"]


def test_open_webui_is_the_built_image_running_as_a_user_beside_replica_0(host):
    state = docker_inspect(host, "molecule-open-webui")
    assert state["State"]["Running"] and state["HostConfig"]["NetworkMode"] == "host"
    assert state["Config"]["Image"].startswith("embedops/open-webui:0.12.4-cpu-")
    assert state["Config"]["User"] == "1000"
    env = container_env(state)
    assert env["OLLAMA_BASE_URL"] == "http://127.0.0.1:21434"
    assert (env["RAG_EMBEDDING_ENGINE"], env["RAG_EMBEDDING_MODEL"]) == ("ollama", MODEL)
    assert env["OFFLINE_MODE"] == "true" and env["HOST"] == "127.0.0.1" and env["PORT"] == "21300"
    # No key in the environment: Open WebUI made its own at first start, in its data volume, for its user alone.
    assert "WEBUI_SECRET_KEY" not in env
    mode = host.check_output("docker exec molecule-open-webui stat -c %a:%u /app/backend/data/.webui_secret_key")
    assert mode.strip() == "600:1000"
    versions = host.check_output("docker exec molecule-open-webui python3 -c \"import importlib.metadata as m; "
                                 "print(m.version('open-webui'), m.version('torch'))\"")
    assert versions.split() == ["0.12.4", "2.13.0+cpu"]


def test_open_webui_logs_in_and_lists_the_models_of_replica_0(webui_token):
    status, config = webui("/api/config")
    assert status == 200 and config["version"] == "0.12.4"
    with urllib.request.urlopen("http://127.0.0.1:21434/api/tags", timeout=10) as answer:
        served = sorted(m["name"] for m in json.load(answer)["models"])
    assert served == [LISTED]
    status, doc = webui("/api/models", token=webui_token)
    assert status == 200
    assert sorted(m["id"] for m in doc["data"] if m.get("owned_by") == "ollama") == served
    # Without logging in, nothing is listed.
    assert webui("/api/models")[0] == 401


def test_open_webui_searches_documents_with_the_replicas_embeddings(webui_token):
    """Open WebUI embeds documents through replica 0 (RAG_EMBEDDING_ENGINE=ollama): it loads no model of its own and,
    offline, could reach none."""
    status, doc = webui("/api/v1/retrieval/embedding", token=webui_token)
    assert status == 200 and (doc["RAG_EMBEDDING_ENGINE"], doc["RAG_EMBEDDING_MODEL"]) == ("ollama", MODEL)
    assert doc["ollama_config"]["url"] == "http://127.0.0.1:21434"
    text = "The embedding service runs once per host and every worker calls it."
    status, doc = webui("/api/v1/retrieval/process/text",
                        {"name": "molecule", "content": text, "collection_name": "molecule-probe"}, webui_token)
    assert status == 200, doc
    status, doc = webui("/api/v1/retrieval/query/collection",
                        {"collection_names": ["molecule-probe"], "query": "who calls the service?", "k": 1},
                        webui_token)
    assert status == 200, doc
    assert doc["documents"] == [[text]]
