"""What an operator checks after app_env and openai_backend: run by Molecule's testinfra verifier.

`host` is the application host (systemd as PID 1, the stand-in service). The playbooks run here
with subprocess use Molecule's own inventory and configuration, from the environment the
verifier passes on (MOLECULE_INVENTORY_FILE, ANSIBLE_CONFIG, ANSIBLE_LOG_PATH, ...).
"""

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parent.parent
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
ENV_FILE = "/etc/embedops-demo/app.env"
SERVICE = "embedops-demo-app"
API_BASE = "http://127.0.0.1:18200/v1"
MODEL = "all-minilm-l6-v2"
API_KEY = "appenv-secret-7d41e9b0c2"  # molecule_appenv_api_key in group_vars/all.yml
WRONG_KEY = "appenv-wrong-key-5e8a01"


def playbook(name, *args):
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(SCENARIO / name), *args]
    # The verbosity is the command's own: scripts/test.sh sets ANSIBLE_VERBOSITY for Molecule's runs,
    # which would add to a -vvv here and print the -e values the verbose test looks for.
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_VERBOSITY"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def runs(host):
    """The three playbook runs, at once (they only read the host, or fail before it changes)."""
    before = host.file(ENV_FILE).mtime
    pid_before = host.check_output(f"systemctl show {SERVICE} -p MainPID --value")
    with ThreadPoolExecutor(3) as pool:
        verbose_check = pool.submit(
            playbook, "converge.yml", "--check", "--diff", "-vvv",
            "-e", json.dumps({"app_env_extra": {"EMBEDDING_BATCH_SIZE": "32"}}),
        )
        wrong_key = pool.submit(playbook, "converge.yml", "-e", f"app_env_api_key={WRONG_KEY}")
        refusals = pool.submit(playbook, "refusals.yml")
        result = {
            "verbose_check": verbose_check.result(),
            "wrong_key": wrong_key.result(),
            "refusals": refusals.result(),
        }
    assert result["refusals"][0] == 0, result["refusals"][1][-3000:]
    result["messages"] = json.loads((EPHEMERAL / "refusals.json").read_text())
    result["untouched"] = (
        host.file(ENV_FILE).mtime == before
        and host.check_output(f"systemctl show {SERVICE} -p MainPID --value") == pid_before
    )
    return result


def test_env_file_is_private_and_holds_the_endpoint(host):
    env_file = host.file(ENV_FILE)
    assert env_file.is_file
    assert env_file.mode == 0o600
    assert (env_file.user, env_file.group) == ("root", "root")
    lines = env_file.content_string.splitlines()
    assert f"EMBEDDING_API_BASE={API_BASE}" in lines
    assert f"EMBEDDING_MODEL={MODEL}" in lines
    assert f"EMBEDDING_API_KEY={API_KEY}" in lines
    assert "EMBEDDING_BATCH_SIZE=64" in lines  # app_env_extra
    assert not any(line.startswith("EMBEDDING_DIMENSIONS=") for line in lines)


def test_service_was_restarted_with_the_new_settings(host):
    service = host.service(SERVICE)
    assert service.is_running
    # Started after the file was written...
    started = int(host.check_output(f"systemctl show {SERVICE} -p ActiveEnterTimestampMonotonic --value"))
    assert started > 0
    started_epoch = float(host.check_output(
        f"date -d \"$(systemctl show {SERVICE} -p ActiveEnterTimestamp --value)\" +%s"
    ))
    assert started_epoch >= host.file(ENV_FILE).mtime.timestamp() - 1
    # ...and the running process got the file (prepare started it before the file existed).
    pid = host.check_output(f"systemctl show {SERVICE} -p MainPID --value")
    environ = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
    assert f"EMBEDDING_MODEL={MODEL}" in environ
    assert f"EMBEDDING_API_BASE={API_BASE}" in environ


def test_the_app_host_reaches_the_endpoint_with_the_file(host):
    """The settings in the file work from the application host, as the application will use them."""
    args = {"api_base": API_BASE, "model": MODEL, "api_key": API_KEY, "expected_dimension": 384, "check_base64": False}
    result = host.ansible("embedops.embeddings.embeddings_verify", json.dumps(args), check=False)
    assert "error_kind" not in result, result.get("msg")


def playbook_output(log):
    """The entries of ansible-playbook runs in an Ansible log, without other tools' entries.

    Testinfra logs there too (ANSIBLE_LOG_PATH is in the verifier's environment): its
    `ansible-inventory --list` dumps the inventory's variables, key included, which is no output of
    a play. Each entry starts with a timestamp and the process id; a playbook's process logs PLAY.
    """
    entries = re.split(r"^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ p=\d+ )", log, flags=re.MULTILINE)
    pids = [re.match(r"\S+ \S+ p=(\d+) ", entry) for entry in entries]
    playbooks = {pid.group(1) for pid, entry in zip(pids, entries) if pid and "| PLAY [" in entry}
    return "".join(entry for pid, entry in zip(pids, entries) if pid and pid.group(1) in playbooks)


def test_key_never_in_the_logged_output():
    """ANSIBLE_LOG_PATH (molecule.yml) holds everything prepare, converge, idempotence and check printed."""
    output = playbook_output((EPHEMERAL / "ansible.log").read_text())
    assert "app_env : Configure | the env file" in output
    assert "openai_backend : Publish | the service contract for later plays" in output
    assert API_KEY not in output


def test_key_and_file_never_in_a_verbose_diff_run(runs):
    rc, output = runs["verbose_check"]
    assert rc == 0, output[-3000:]
    assert "changed: [embedops-appenv-app]" in output  # the file would change: a diff was due
    assert "EMBEDDING_BATCH_SIZE" not in output
    assert API_KEY not in output


def test_wrong_key_fails_with_the_401_sentence(runs):
    rc, output = runs["wrong_key"]
    assert rc != 0
    assert f"app_env_api_key: {API_BASE} refused the key (HTTP 401)" in output
    assert WRONG_KEY not in output and API_KEY not in output


def test_nothing_changed_on_the_host_by_refused_runs(runs):
    assert runs["untouched"]


@pytest.mark.parametrize(
    ("case", "sentence"),
    [
        ("app_env_wrong_key", f"app_env_api_key: {API_BASE} refused the key (HTTP 401)"),
        (
            "app_env_refused",
            "app_env_api_base http://127.0.0.1:18299/v1: connection refused — is the gateway running and the port "
            "right?",
        ),
        (
            "app_env_no_such_name",
            "app_env_api_base http://no-such-gateway.invalid:8000/v1: the name no-such-gateway.invalid does not "
            "resolve",
        ),
        (
            "app_env_unknown_model",
            f"app_env_model no-such-model: {API_BASE} does not serve this model — it serves: {MODEL}.",
        ),
        ("app_env_placeholder_key", "app_env_api_key holds a placeholder, not a key"),
        ("app_env_no_scheme", "app_env_api_base must be a URL with its scheme"),
        ("app_env_dir_is_a_file", "app_env_file /etc/hostname/app.env: /etc/hostname exists but is not a directory."),
        ("openai_backend_wrong_key", f"openai_backend_api_key: {API_BASE} refused the key (HTTP 401)"),
        (
            "openai_backend_dimensions_for_other_model",
            "openai_backend_dimensions is 256, but model all-minilm-l6-v2 does not accept `dimensions`",
        ),
        ("openai_backend_vault_placeholder", "openai_backend_api_key holds a placeholder, not a key"),
    ],
)
def test_refusal_says_why_and_names_the_variable(runs, case, sentence):
    message = runs["messages"][case]
    assert message.startswith(sentence), message
    assert API_KEY not in message and WRONG_KEY not in message
