"""What an operator checks after deploying the vLLM role: run by Molecule's testinfra verifier.

The instance shares the host's network, so the published port answers on 127.0.0.1 both
inside the instance and here, where the official openai client runs.
"""

import json
import re
import shlex
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import openai
import pytest

PORT = 18000
BASE = f"http://127.0.0.1:{PORT}/v1"
MODEL = "all-minilm-l6-v2"
CONTAINER = "molecule-vllm-0"
REPLICAS = {"molecule-vllm-0": (18000, "0"), "molecule-vllm-1": (18001, "1")}  # name: (port, cpuset)
API_KEY = "molecule-secret-3f9c2a"  # vllm_api_key in host_vars


def docker_inspect(host, name):
    out = host.check_output(f"docker inspect {name}")
    return json.loads(out)[0]


def dot(x, y):
    return sum(i * j for i, j in zip(x, y))


def docker_time(text):
    """Docker's RFC 3339 timestamps carry nanoseconds; datetime takes microseconds."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00"))


def verify(host, **args):
    """Run the collection's verify module on the instance, as a playbook would.

    testinfra's Ansible backend drops the `failed` key from a failed module's result; a failure
    shows as `error_kind`, which the module sets only when a check failed.
    """
    args = {"api_base": BASE, "model": MODEL, "api_key": API_KEY, **args}
    return host.ansible("embedops.embeddings.embeddings_verify", json.dumps(args), check=False)


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=BASE, api_key=API_KEY, timeout=60)


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_replica_runs_healthy_with_restart_policy(host, name):
    state = docker_inspect(host, name)
    assert state["State"]["Running"]
    assert state["State"]["Health"]["Status"] == "healthy"
    assert state["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_replica_on_its_own_loopback_port_and_core(host, name):
    port, cpuset = REPLICAS[name]
    state = docker_inspect(host, name)
    assert state["HostConfig"]["PortBindings"]["8000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert state["HostConfig"]["CpusetCpus"] == cpuset
    env = dict(e.split("=", 1) for e in state["Config"]["Env"])
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == cpuset


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_each_replica_answers(host, name):
    port = REPLICAS[name][0]
    result = verify(host, api_base=f"http://127.0.0.1:{port}/v1", expected_dimension=384, check_base64=False)
    assert "error_kind" not in result, result.get("msg")


def test_changed_flag_rolled_through_replicas_one_at_a_time(host):
    """side_effect.yml changed --max-num-seqs: both replicas carry it, recreated in turn."""
    first, second = (docker_inspect(host, name) for name in sorted(REPLICAS))
    for state in (first, second):
        args = state["Args"]
        assert args[args.index("--max-num-seqs") + 1] == "32"
    # The second replica was created only after the first had started and answered
    # (vLLM takes 20+ s to load); recreating both at once would put them ~1 s apart.
    started = docker_time(first["State"]["StartedAt"])
    created = docker_time(second["Created"])
    assert (created - started).total_seconds() > 10, (first["State"]["StartedAt"], second["Created"])


@pytest.mark.parametrize("name", sorted(REPLICAS))
def test_compute_runs_on_tcmalloc_and_intel_openmp(host, name):
    """vLLM's CPU guide asks for both preloaded; the worker warns at start-up when either is missing."""
    maps = host.check_output(f"docker exec {name} sh -c 'cat /proc/$(pgrep -f VLLM::Worker | head -1)/maps'")
    assert "libtcmalloc_minimal.so" in maps and "libiomp5.so" in maps
    logs = host.run(f"docker logs {name}")
    assert "not found in LD_PRELOAD" not in logs.stdout + logs.stderr


def test_model_mounted_read_only_and_offline(host):
    state = docker_inspect(host, CONTAINER)
    model_mounts = [m for m in state["Mounts"] if m["Destination"] == f"/models/{MODEL}"]
    assert len(model_mounts) == 1 and model_mounts[0]["RW"] is False
    assert host.file(model_mounts[0]["Source"] + "/config.json").exists
    env = dict(e.split("=", 1) for e in state["Config"]["Env"])
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"


def test_verify_module_reports_384_dimensions(host):
    result = verify(host, expected_dimension=384, check_base64=True)
    assert "error_kind" not in result, result.get("msg")
    assert result["dimension"] == 384
    assert result["base64_matches"] is True


def test_batch_of_three_in_order(client):
    texts = ["a cat sat on the mat", "quantum field theory", "a cat sat on a mat"]
    resp = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in resp.data] == [0, 1, 2]
    assert all(len(d.embedding) == 384 for d in resp.data)
    # Order is meaningful: the two cat sentences are closer to each other than to physics.
    a, b, c = (d.embedding for d in resp.data)
    assert dot(a, c) > dot(a, b)


def test_an_alias_serves_the_same_model(client, host):
    """vllm_served_model_aliases: the OpenAI name an application already sends gets the same vectors, and the
    recorded service contract lists it."""
    text = "an application written against OpenAI's model names"
    by_name = client.embeddings.create(model=MODEL, input=text, encoding_format="float").data[0].embedding
    by_alias = client.embeddings.create(model="text-embedding-3-small", input=text, encoding_format="float")
    assert max(abs(x - y) for x, y in zip(by_name, by_alias.data[0].embedding)) < 1e-6
    assert {m.id for m in client.models.list()} >= {MODEL, "text-embedding-3-small"}
    contract = json.loads(host.file("/etc/ansible/facts.d/embedops_service.fact").content_string)
    assert (contract["model"], contract["aliases"]) == (MODEL, ["text-embedding-3-small"])
    assert (contract["max_input_tokens"], contract["long_input"]) == (512, "refused")


def test_base64_default_of_official_client_decodes_to_same_vectors(client):
    text = "the official client asks for base64"
    as_float = client.embeddings.create(model=MODEL, input=text, encoding_format="float").data[0].embedding
    default = client.embeddings.create(model=MODEL, input=text).data[0].embedding
    assert max(abs(x - y) for x, y in zip(as_float, default)) < 1e-6


def test_long_input_accepted_after_raising_max_model_len(client):
    # ~500 tokens: beyond the package's 256-token sentence-transformers limit.
    text = " ".join(f"word{i}" for i in range(160))
    resp = client.embeddings.create(model=MODEL, input=text, encoding_format="float")
    assert resp.usage.prompt_tokens > 400
    assert len(resp.data[0].embedding) == 384


def test_too_long_input_rejected_with_clear_message(host):
    text = " ".join(f"word{i}" for i in range(400))
    result = verify(host, inputs=[text], check_base64=False)
    assert result.get("error_kind") == "input_too_long", result
    assert "maximum context length is 512 tokens" in result["msg"]


def test_unknown_model_rejected_with_clear_message(host):
    result = verify(host, model="no-such-model", check_base64=False)
    assert result.get("error_kind") == "unknown_model", result
    # The model and its alias (vllm_served_model_aliases in host_vars), as the server lists them.
    assert result["msg"] == f"model no-such-model is not served by {BASE}; it serves: {MODEL}, text-embedding-3-small"


def test_without_the_key_the_api_answers_401(host):
    result = verify(host, api_key="", check_base64=False)
    assert result.get("error_kind") == "unauthorized", result
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=BASE, api_key="wrong-key", timeout=30).embeddings.create(model=MODEL, input="x")


def test_key_is_neither_in_docker_inspect_nor_in_ps(host):
    inspect_text = host.check_output(f"docker inspect {CONTAINER}")
    assert API_KEY not in inspect_text
    assert "/run/embedops/api_key" in inspect_text  # only the file's path
    # The replica's own processes (the server is `vllm serve`, or the api_server module where
    # vllm_server_command says so), then every process on the host.
    replica = host.check_output(f"docker top {CONTAINER} -eo pid,args")
    assert "vllm serve" in replica or "vllm.entrypoints.openai.api_server" in replica, replica
    assert API_KEY not in replica
    processes = subprocess.run(["ps", "axww", "-o", "args"], capture_output=True, text=True, check=True).stdout
    assert API_KEY not in processes


def test_key_file_is_readable_by_the_server_user_only(host):
    key_file = host.file("/var/lib/embedops-molecule/vllm/secrets/api_key")
    assert key_file.mode == 0o400
    assert key_file.uid == 1000


# ---- right vectors, not just vectors (issue 19): a server started with the wrong pooling is caught

CLS_NAME, CLS_PORT = "molecule-vllm-cls", 18009
REFERENCE = (Path(__file__).resolve().parents[3] / "roles" / "vllm" / "files" / "reference_vectors"
             / "sentence-transformers--all-MiniLM-L6-v2.json")


def mount_flag(mount):
    """docker run's --mount for a mount as docker inspect shows it."""
    source = mount["Source"] if mount["Type"] == "bind" else mount["Name"]
    readonly = "" if mount["RW"] else ",readonly"
    return "type=%s,source=%s,target=%s%s" % (mount["Type"], source, mount["Destination"], readonly)


@pytest.fixture(scope="module")
def cls_replica(host):
    """A third server started by hand as replica 1 is (the same image, model, mounts, environment and flags), with one
    flag more: CLS pooling, where all-MiniLM-L6-v2 is mean-pooled. It serves 384 finite unit vectors, the wrong ones."""
    state = docker_inspect(host, "molecule-vllm-1")
    config = state["Config"]
    entrypoint = config["Entrypoint"] or []
    command = (["docker", "run", "-d", "--name", CLS_NAME, "-p", "127.0.0.1:%d:8000" % CLS_PORT,
                "--user", config["User"] or "0", "--cpuset-cpus", state["HostConfig"]["CpusetCpus"] or "0",
                "--shm-size", str(state["HostConfig"]["ShmSize"])]
               + [arg for env in config["Env"] for arg in ("-e", env)]
               + [arg for mount in state["Mounts"] for arg in ("--mount", mount_flag(mount))]
               + (["--entrypoint", entrypoint[0]] if entrypoint else [])
               + [config["Image"]] + entrypoint[1:] + (config["Cmd"] or [])
               + ["--pooler-config.seq_pooling_type", "CLS"])
    host.run("docker rm -f %s" % CLS_NAME)
    started = host.run(" ".join(shlex.quote(arg) for arg in command))
    assert started.rc == 0, started.stderr
    url = "http://127.0.0.1:%d/health" % CLS_PORT
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            logs = host.run("docker logs --tail 30 %s" % CLS_NAME)
            pytest.fail("the CLS server did not answer within 300 s:\n" + logs.stdout + logs.stderr)
        time.sleep(3)
    yield "http://127.0.0.1:%d/v1" % CLS_PORT
    host.run("docker rm -f %s" % CLS_NAME)


def test_a_replica_with_another_pooling_is_caught_by_the_agreement_check(host, cls_replica):
    result = host.ansible("embedops.embeddings.embeddings_agreement", json.dumps(
        {"endpoints": [BASE, "http://127.0.0.1:18001/v1", cls_replica], "model": MODEL, "api_key": API_KEY}),
        check=False)
    assert "error_kind" in result, result
    # The message names the server that disagrees, the input and the cosine.
    assert cls_replica in result["msg"] and "cosine" in result["msg"], result["msg"]
    # The two replicas the role started agree with each other.
    same = host.ansible("embedops.embeddings.embeddings_agreement", json.dumps(
        {"endpoints": [BASE, "http://127.0.0.1:18001/v1"], "model": MODEL, "api_key": API_KEY}), check=False)
    assert "error_kind" not in same, same.get("msg")


def test_a_replica_with_another_pooling_fails_the_reference_check_naming_the_cause(host, cls_replica):
    # The reference names the weights (vllm_model), the servers their served name.
    reference = {"reference": json.loads(REFERENCE.read_text()),
                 "reference_model": "sentence-transformers/all-MiniLM-L6-v2"}
    wrong = verify(host, api_base=cls_replica, check_base64=False, **reference)
    assert "error_kind" in wrong, wrong
    assert "cosine" in wrong["msg"] and "pooling" in wrong["msg"], wrong["msg"]
    right = verify(host, check_base64=False, **reference)
    assert "error_kind" not in right, right.get("msg")
