"""Every case of the bad-input catalogue (tests/bad_input/catalogue.yml) is refused before the host changes.

Each case runs the real thing: a role with ansible-playbook on localhost, site.yml on a throw-away inventory, or a
module with `ansible localhost -m`. The run must fail with the catalogue's message (the variable named, the fix said),
and leave the host as it was:
  - no task past the refusing phase ran (roles: only argument validation and Preflight, plus the read-only Verify
    for cases that stop at the endpoint check; site.yml: no role task at all);
  - the role's data directory, the env file's directory, and the case's own `untouched` paths do not exist;
  - the Ollama test double's model store holds the same files as before;
  - a case `against: real` reached no test double at all, one `against: vllm_double` or `ollama_double` reached
    that double and no other: the "Tested against" column of docs/security.md is checked, not claimed;
  - no key (the double's, or the case's `secrets`) is in the output.
scripts/bad-input-table.py renders the same file into docs/security.md.
"""

import json
import os
import subprocess
import sys

import pytest
import vllm_double  # tests/integration, where this file is: on sys.path as pytest imports it
import yaml
from doubles.ollama import serve_ollama
from doubles.playbook import ansible_env as playbook_env
from doubles.server_thread import closed_port
from ollama_double import ollama_double

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CATALOGUE = os.path.join(ROOT, "tests", "bad_input", "catalogue.yml")
with open(CATALOGUE) as handle:
    CASES = yaml.safe_load(handle)
BIN = os.path.dirname(sys.executable)

# The vLLM test double serves all-MiniLM-L6-v2 as vLLM 0.32 does for the local inventory (384 dimensions,
# 512-token context) and requires this key.
DOUBLE_MODEL, DOUBLE_DIMENSION, DOUBLE_CONTEXT = "all-minilm", 384, 512
DOUBLE_KEY = "bad-input-double-key-5f0c2e"
LONG_TEXT = " ".join(["word"] * 600)

# runner: (role, variables every case of it gets, paths that must not exist afterwards)
ROLES = {
    # vllm_tune off: each case checks one refusal of the preflight, which the tuner's own (no GPU here for the
    # gpu profile) would otherwise come before; the tuner's refusals are cases of their own with vllm_tune: true.
    "vllm_role": ("vllm", {"vllm_data_dir": "{tmp}/vllm", "vllm_container_prefix": "bad-input-vllm",
                           "vllm_tune": False},
                  ["{tmp}/vllm"]),
    "gateway_role": ("gateway", {
        "gateway_data_dir": "{tmp}/gateway", "gateway_container_name": "bad-input-gateway",
        "gateway_backends": [{"name": "replica-0", "address": "127.0.0.1:18000"}],
        "gateway_verify_model": "bad-input-model",
    }, ["{tmp}/gateway"]),
    "ollama_role": ("ollama", {"ollama_container_prefix": "bad-input-ollama", "ollama_models_volume": "bad-input"},
                    []),
    "app_env_role": ("app_env", {
        "app_env_file": "{tmp}/app/app.env", "app_env_api_base": "{vllm_double}", "app_env_model": DOUBLE_MODEL,
        "app_env_api_key": DOUBLE_KEY, "app_env_service_name": "",
    }, ["{tmp}/app"]),
    "openai_backend_role": ("openai_backend", {
        "openai_backend_api_base": "{vllm_double}", "openai_backend_model": DOUBLE_MODEL,
        "openai_backend_api_key": DOUBLE_KEY, "openai_backend_expected_dimension": DOUBLE_DIMENSION,
        "openai_backend_wait_timeout": 0,
    }, []),
    "docker_engine_role": ("docker_engine", {"docker_engine_daemon_json": "{tmp}/docker/daemon.json"},
                           ["{tmp}/docker"]),
}
SITE_UNTOUCHED = ["{tmp}/vllm", "{tmp}/app"]
COMPONENTS = {"site": "site.yml"}
COMPONENTS.update((runner, "%s role" % spec[0]) for runner, spec in ROLES.items())
REQUIRED = ("id", "component", "variable", "input", "message", "runner", "against")
# Tune (the vllm role reading the hardware and choosing flags) is read-only and part of the preflight phase.
PHASES = {"preflight": ("Preflight", "Tune"), "endpoint check": ("Preflight", "Tune", "Verify")}


def component_of(runner):
    return "%s module" % runner.split(":", 1)[1] if runner.startswith("module:") else COMPONENTS.get(runner)


# ---- the catalogue itself


def test_every_case_is_complete_and_names_its_variable():
    ids = [case.get("id") for case in CASES]
    assert len(ids) == len(set(ids)), "ids are not unique"
    assert len(CASES) >= 20
    for case in CASES:
        missing = [field for field in REQUIRED if not case.get(field)]
        assert not missing, "%s lacks %s" % (case.get("id"), missing)
        assert case["component"] == component_of(case["runner"]), case["id"]
        assert case["against"] in ("real", "vllm_double", "ollama_double"), case["id"]
        assert case.get("stops_at", "preflight") in PHASES, case["id"]
        assert case["variable"] in case["input"], "%s: the input does not name %s" % (case["id"], case["variable"])
        assert case["variable"] in case["message"], "%s: the message does not name %s" % (case["id"], case["variable"])


# ---- the test doubles and the tokens the catalogue uses


@pytest.fixture(scope="module")
def doubles(tmp_path_factory):
    with vllm_double.running(DOUBLE_MODEL, DOUBLE_DIMENSION, DOUBLE_CONTEXT, api_key=DOUBLE_KEY) as vllm:
        store = str(tmp_path_factory.mktemp("ollama-models"))
        with serve_ollama(store, os.path.join(ROOT, "tests", "ollama_double", "registry")) as ollama:
            ollama.store_dir = store
            yield {"vllm": vllm, "ollama": ollama}


def closed_port_url():
    """A local port nothing listens on (bound, then released): connection refused."""
    return "http://127.0.0.1:%d/v1" % closed_port()


def substitute(value, tokens):
    if isinstance(value, str):
        for token, text in tokens.items():
            value = value.replace(token, text)
        return value
    if isinstance(value, list):
        return [substitute(item, tokens) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, tokens) for key, item in value.items()}
    return value


def snapshot(directory):
    found = {}
    for base, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            found[os.path.relpath(path, directory)] = os.path.getsize(path)
    return found


def make_immutable(path):
    """A directory nobody may write in, root included (chattr +i), or skip where the filesystem cannot."""
    os.makedirs(path)
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        return lambda: os.chmod(path, 0o755)
    run = subprocess.run(["chattr", "+i", path], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        pytest.skip("cannot make %s immutable here (%s)" % (path, run.stderr.strip()))
    return lambda: subprocess.run(["chattr", "-i", path], check=False)


def prepare(setup, tokens):
    """Put the case's files in place; return the undo steps."""
    undo = []
    for path in substitute(setup.get("files", []), tokens):
        with open(path, "w") as handle:
            handle.write("a file where a directory is expected\n")
    for path in substitute(setup.get("gguf_files", []), tokens):
        with open(path, "wb") as handle:
            handle.write(ollama_double.gguf_bytes({"general.architecture": "bert", "general.name": "bad input"}))
    for path in substitute(setup.get("immutable_dirs", []), tokens):
        undo.append(make_immutable(path))
    return undo


# ---- running the real thing


def ansible_env():
    return playbook_env(
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_RETRY_FILES_ENABLED="0",
    )


def write_inventory(path, inventory):
    """A YAML inventory of `inventory` (groups -> hosts -> variables, optional "vars") where every host is local.

    Modules run with this Python: interpreter discovery may find a pyenv shim that does not run here.
    """
    inventory = dict(inventory)
    top_vars = dict(inventory.pop("vars", {}), ansible_connection="local", ansible_python_interpreter=sys.executable)
    doc = {"all": {"vars": top_vars, "hosts": {"localhost": {}},
                   "children": {group: {"hosts": hosts} for group, hosts in inventory.items()}}}
    with open(path, "w") as handle:
        yaml.safe_dump(doc, handle)


def run_case(case, tmp_path, tokens):
    runner = case["runner"]
    if runner.startswith("module:"):
        args = substitute(case.get("args", {}), tokens)
        argv = [os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local",
                "-e", "ansible_python_interpreter=" + sys.executable,
                "-m", "embedops.embeddings." + runner.split(":", 1)[1], "-a", json.dumps(args)]
    elif runner == "site":
        inventory = tmp_path / "inventory.yml"
        write_inventory(inventory, substitute(case["inventory"], tokens))
        argv = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), os.path.join(ROOT, "site.yml")]
    else:
        role, base = ROLES[runner][:2]
        play = tmp_path / "play.yml"
        play.write_text(yaml.safe_dump([{
            "name": "Bad input: " + case["id"], "hosts": "localhost", "gather_facts": False,
            "roles": ["embedops.embeddings." + role],
        }]))
        inventory = tmp_path / "inventory.yml"
        write_inventory(inventory, substitute(case.get("inventory", {}), tokens))
        variables = substitute(dict(base, **case.get("vars", {})), tokens)
        argv = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "-e", json.dumps(variables), str(play)]
    return subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), cwd=str(tmp_path), timeout=120,
                          check=False)


def failure_messages(result):
    messages = [result["msg"]] if isinstance(result.get("msg"), str) else []
    for item in result.get("results", []):
        if item.get("failed"):
            messages += failure_messages(item)
    return messages


def tasks_run(report):
    """(task name, results by host) of every task that ran, in order."""
    return [(task["task"]["name"], task["hosts"]) for play in report["plays"] for task in play["tasks"]]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_refused_before_the_host_changes(case, tmp_path, doubles):
    tokens = {
        "{tmp}": str(tmp_path), "{vllm_double}": doubles["vllm"].url, "{ollama_double}": doubles["ollama"].url,
        "{closed_port}": closed_port_url(), "{long_text}": LONG_TEXT,
    }
    undo = prepare(case.get("setup", {}), tokens)
    requests_before = {name: len(double.requests) for name, double in doubles.items()}
    store_before = snapshot(doubles["ollama"].store_dir)
    try:
        run = run_case(case, tmp_path, tokens)
    finally:
        for step in undo:
            step()
    output = run.stdout + run.stderr

    # Refused, in the catalogue's words.
    assert run.returncode != 0, output
    report = json.loads(run.stdout)
    failed = [(name, hosts) for name, hosts in tasks_run(report) if any(r.get("failed") for r in hosts.values())]
    assert failed, output
    messages = [msg for _name, hosts in failed for result in hosts.values() for msg in failure_messages(result)]
    expected = substitute(case["message"], tokens)
    assert any(expected in msg for msg in messages), "expected %r in %s" % (expected, messages)

    # Nothing past the refusing phase ran.
    ran = [name for name, hosts in tasks_run(report) if not all(r.get("skipped") for r in hosts.values())]
    if case["runner"] == "site":
        assert not [name for name in ran if name.startswith("embedops.embeddings.")], ran
    elif case["runner"] in ROLES:
        phases = PHASES[case.get("stops_at", "preflight")]
        for name in ran:
            step = name.split(" : ", 1)[-1]
            assert step.startswith("Validating arguments against arg spec") or step.split(" | ")[0] in phases, ran

    # The host is as it was.
    untouched = list(case.get("untouched", []))
    untouched += SITE_UNTOUCHED if case["runner"] == "site" else ROLES.get(case["runner"], (None, None, []))[2]
    for path in substitute(untouched, tokens):
        assert not os.path.lexists(path), "%s was created" % path
    assert snapshot(doubles["ollama"].store_dir) == store_before, "the Ollama double's model store changed"

    # `against` says which test double answered, if any.
    reached = [name + "_double" for name, double in doubles.items() if len(double.requests) > requests_before[name]]
    assert reached == ([] if case["against"] == "real" else [case["against"]]), "against: %s, reached: %s" % (
        case["against"], reached)

    for secret in [DOUBLE_KEY] + case.get("secrets", []):
        assert secret not in output, "a key is in the output"
