"""The application host, as its operator checks it: app_env pointed it at the gateway."""

testinfra_hosts = ["embedops-gw-app"]

ENV_FILE = "/etc/embedops-demo/app.env"
SERVICE = "embedops-demo-app"
GATEWAY = "http://127.0.0.1:18380/v1"
CLIENT_KEY = "molecule-client-key-51a0"


def test_env_file_points_at_the_gateway_with_the_gateway_key(host):
    env_file = host.file(ENV_FILE)
    assert env_file.mode == 0o600 and env_file.user == "root"
    settings = dict(line.split("=", 1) for line in env_file.content_string.splitlines()
                    if line and not line.startswith("#"))
    assert settings["EMBEDDING_API_BASE"].strip("\"'") == GATEWAY
    assert settings["EMBEDDING_MODEL"].strip("\"'") == "all-minilm-l6-v2"
    assert settings["EMBEDDING_API_KEY"].strip("\"'") == CLIENT_KEY


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
    out = host.run("python3 -c %s", script)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "384"
