"""The application host, as its operator checks it: app_env pointed it at the gateway."""

import json
import subprocess
import time

testinfra_hosts = ["embedops-gw-app"]

ENV_FILE = "/etc/embedops-demo/app.env"
SERVICE = "embedops-demo-app"
GATEWAY = "http://127.0.0.1:18380/v1"
APP_KEY = "molecule-app-host-key-2b7c"  # its application's, from the vault (group_vars/gateway_hosts.yml)


def test_env_file_points_at_the_gateway_with_the_application_s_own_key(host):
    env_file = host.file(ENV_FILE)
    assert env_file.mode == 0o600 and env_file.user == "root"
    settings = dict(line.split("=", 1) for line in env_file.content_string.splitlines()
                    if line and not line.startswith("#"))
    assert settings["EMBEDDING_API_BASE"].strip("\"'") == GATEWAY
    assert settings["EMBEDDING_MODEL"].strip("\"'") == "all-minilm-l6-v2"
    assert settings["EMBEDDING_API_KEY"].strip("\"'") == APP_KEY
    # The replicas' context (vllm_max_model_len 512, as the server lists it), through the gateway's contract: the
    # application chunks below it, since vLLM refuses longer inputs.
    assert settings["EMBEDDING_MAX_INPUT_TOKENS"] == "512"


def test_the_gateway_contract_says_what_a_longer_input_gets():
    """What the gateway host recorded (the Molecule instance embedops-gw-edge, a container on this engine)."""
    fact = "/etc/ansible/facts.d/embedops_gateway.fact"
    recorded = subprocess.run(["docker", "exec", "embedops-gw-edge", "cat", fact],
                              capture_output=True, text=True, check=True).stdout
    contract = json.loads(recorded)
    assert (contract["model"], contract["max_input_tokens"], contract["long_input"]) == (
        "all-minilm-l6-v2", 512, "refused")
    assert contract["endpoint"] == GATEWAY and contract["api_key_required"] is True


def test_the_application_got_the_settings(host):
    pid = host.check_output(f"systemctl show {SERVICE} -p MainPID --value")
    environ = host.file(f"/proc/{pid}/environ").content_string.split("\0")
    assert f"EMBEDDING_API_BASE={GATEWAY}" in environ


def test_the_application_host_embeds_through_the_gateway(host):
    """A real request from the application host, with what the env file says (no key on a command line)."""
    script = (
        "import json, urllib.request\n"
        f"env = dict(l.split('=', 1) for l in open('{ENV_FILE}').read().splitlines() if l and l[0] != '#')\n"
        "env = {k: v.strip('\"\\'') for k, v in env.items()}\n"
        "body = json.dumps({'model': env['EMBEDDING_MODEL'], 'input': ['from the application host']}).encode()\n"
        "req = urllib.request.Request(env['EMBEDDING_API_BASE'] + '/embeddings', data=body, method='POST',\n"
        "    headers={'Content-Type': 'application/json', 'Authorization': 'Bearer ' + env['EMBEDDING_API_KEY']})\n"
        "print(len(json.load(urllib.request.urlopen(req, timeout=60))['data'][0]['embedding']))\n"
    )
    since = time.time()
    out = host.run("python3 -c %s", script)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "384"
    # The gateway knows the request by the application's name, and never logs the key.
    log = subprocess.run(["docker", "logs", "--since", str(int(since) - 1), "molecule-gateway"],
                         capture_output=True, text=True, check=True)
    lines = [line for line in (log.stdout + log.stderr).splitlines() if "/v1/embeddings" in line]
    assert any(line.endswith("app=molecule-app-host") for line in lines), lines
    assert APP_KEY not in log.stdout + log.stderr
