"""What an operator checks after the role configured Docker on a CPU host: run by Molecule's testinfra verifier."""

import json

import pytest

MIRROR = "https://mirror.example.internal"


@pytest.fixture(scope="module")
def daemon_json(host):
    return json.loads(host.file("/etc/docker/daemon.json").content_string)


@pytest.fixture(scope="module")
def docker_info(host):
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


def test_runtime_entry_merged_and_hand_set_keys_kept(daemon_json):
    assert daemon_json == {
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "3"},
        "registry-mirrors": [MIRROR],
        "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}},
        "default-runtime": "nvidia",
    }


def test_old_file_backed_up_once(host):
    backups = host.check_output("ls /etc/docker | grep '^daemon.json\\..*~$' || true").split()
    assert len(backups) == 2, backups  # the runtime and the default runtime: two changes, first run only
    first = min(backups)
    assert "runtimes" not in host.file("/etc/docker/" + first).content_string


def test_dockerd_was_restarted_by_the_handler(host):
    before = host.file("/root/dockerd.pid.prepare").content_string.strip()
    now = host.check_output("pidof dockerd").strip()
    assert now and now != before


def test_dockerd_runs_with_the_nvidia_runtime_as_default(docker_info):
    assert "nvidia" in docker_info["Runtimes"]
    assert docker_info["Runtimes"]["nvidia"]["path"] == "nvidia-container-runtime"
    assert docker_info["DefaultRuntime"] == "nvidia"


def test_dockerd_still_applies_the_hand_set_keys(docker_info):
    assert docker_info["LoggingDriver"] == "json-file"
    assert MIRROR + "/" in docker_info["RegistryConfig"]["Mirrors"]


PACKAGES = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
            "libnvidia-container1"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_pinned_to_the_release_and_held(host, name):
    package = host.package(name)
    assert package.is_installed and package.version == "1.18.0-1"  # not the newer 1.18.1-1 in the repository
    assert host.check_output("dpkg --get-selections %s" % name).split() == [name, "hold"]


def test_repository_signed_by_the_dearmored_keyring_only(host):
    keyring = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
    assert host.file("/etc/apt/sources.list.d/nvidia-container-toolkit.list").content_string.splitlines()[-1] == (
        "deb [signed-by=%s] file:///srv/nvidia-mirror/stable/deb/$(ARCH) /" % keyring)
    binary = host.file(keyring).content
    assert not binary.startswith(b"-----BEGIN")  # dearmored: OpenPGP packets, not ASCII armour
    assert binary[0] & 0x80  # an OpenPGP packet tag
    assert "embedops test mirror" in host.check_output("gpg --show-keys --with-colons %s" % keyring)
    # apt trusts the key for this repository only, not globally.
    assert not host.file("/etc/apt/trusted.gpg").exists
