"""side_effect restarted the engine at the end; the containers with restart_policy unless-stopped (a small
HTTP server, and a real vLLM CPU replica that the vllm role deployed) came back by themselves and answer."""

import json
import time
from datetime import datetime

testinfra_hosts = ["embedops-docker-engine-distro"]


def test_engine_was_restarted_by_the_side_effect(host):
    before = host.file("/root/dockerd.after-change").content_string.split()[0]
    assert host.check_output("pidof dockerd") != before


def test_container_came_back_and_answers(host):
    state = json.loads(host.check_output("docker inspect embedops-web"))[0]
    assert state["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    fetch = ("python3 -c \"import urllib.request; "
             "print(urllib.request.urlopen('http://127.0.0.1:18080/', timeout=2).read().decode())\"")
    for _attempt in range(30):  # the engine restarts the container shortly after it answers itself
        answer = host.run(fetch)
        if answer.rc == 0:
            break
        time.sleep(1)
    assert answer.stdout.strip() == "embedops restart-policy test", answer.stderr
    assert json.loads(host.check_output("docker inspect embedops-web"))[0]["State"]["Running"]


def test_vllm_replica_came_back_and_embeds(host, capsys):
    """The replica restarts with the engine (no Ansible after the restart) and serves a real embedding."""
    began = float(host.file("/root/engine-restart.began").content_string)
    args = {"api_base": "http://127.0.0.1:18000/v1", "model": "all-minilm-l6-v2", "expected_dimension": 384,
            "wait_timeout": 300, "check_base64": False}
    result = host.ansible("embedops.embeddings.embeddings_verify", json.dumps(args), check=False)
    answered = float(host.check_output("date +%s.%N"))
    assert "error_kind" not in result and not result.get("failed"), result.get("msg")
    state = json.loads(host.check_output("docker inspect embedops-vllm-0"))[0]
    assert state["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert state["State"]["Running"] and state["State"]["Health"]["Status"] in ("starting", "healthy")
    # Started again after the restart began: the engine restarted it, it did not survive in place.
    started = datetime.fromisoformat(state["State"]["StartedAt"][:26] + "+00:00").timestamp()  # Docker: UTC, ns
    with capsys.disabled():
        print(f"\n[docker restart] the vLLM replica was started again {started - began:.1f} s after the engine "
              f"restart began, and answered an embedding request by {answered - began:.1f} s")
    assert started > began
