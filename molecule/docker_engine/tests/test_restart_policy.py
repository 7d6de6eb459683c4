"""side_effect restarted the engine at the end; the container with restart_policy unless-stopped came back by itself."""

import json
import time

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
