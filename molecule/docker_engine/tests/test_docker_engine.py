"""The engine the role installed, on both hosts, as an operator checks it: run by Molecule's testinfra verifier."""

import json

import pytest

testinfra_hosts = ["embedops-docker-engine-distro", "embedops-docker-engine-repo"]

MIRROR = "https://mirror.example.internal"


@pytest.fixture(scope="module")
def daemon_json(host):
    return json.loads(host.file("/etc/docker/daemon.json").content_string)


@pytest.fixture(scope="module")
def docker_info(host):
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


def starts(host, name):
    """dockerd's pid and how often it had started, as recorded at a point of the scenario."""
    pid, count = host.file("/root/dockerd." + name).content_string.split()
    return pid, int(count)


def test_hand_set_keys_kept_and_role_keys_merged(daemon_json):
    assert daemon_json == {
        "registry-mirrors": [MIRROR],  # by hand (prepare)
        "log-opts": {"max-file": "5", "max-size": "20m"},  # max-file by hand, max-size by the role
        "log-driver": "local",  # the role
        "debug": True,  # the role, in side_effect
    }


def test_first_backup_is_the_hand_written_file(host):
    names = host.check_output("ls /etc/docker | grep '^daemon.json\\..*~$' || true").split()
    backups = sorted(names, key=lambda backup: backup.split(".", 3)[3])  # daemon.json.<pid>.<time>~
    assert len(backups) == 2, backups  # two changes: the role's keys, then debug
    assert json.loads(host.file("/etc/docker/" + backups[0]).content_string) == {
        "registry-mirrors": [MIRROR], "log-opts": {"max-file": "5"}}


def test_engine_answers_with_the_merged_settings(docker_info):
    assert docker_info["LoggingDriver"] == "local"
    assert docker_info["Debug"] is True
    assert MIRROR + "/" in docker_info["RegistryConfig"]["Mirrors"]
    assert docker_info["Driver"] == "overlay2"


def test_started_once_then_restarted_once_for_the_one_change(host):
    converge_pid, converge_count = starts(host, "converge")
    # The role started the engine after writing daemon.json: no restart on top of that start.
    assert converge_count == 1
    # Idempotence and --check on the converged host changed nothing and restarted nothing.
    assert starts(host, "before-change") == (converge_pid, converge_count)
    # side_effect added debug: the handler restarted the engine, once.
    after_pid, after_count = starts(host, "after-change")
    assert after_pid != converge_pid and after_count == 2


def test_service_enabled_and_running(host):
    assert host.run("service docker status").rc == 0
    assert host.check_output("ls /etc/rc2.d").count("docker") == 1
    assert host.file("/var/run/docker-ssd.pid").exists  # started by the init script, not by hand


def test_app_user_in_docker_group(host):
    assert "docker" in host.user("app").groups


def test_community_docker_needs_only_requests(host):
    assert host.package("python3-requests").is_installed
    assert not host.package("python3-docker").is_installed
