"""Where each host's engine came from: Debian's archive, or (a stand-in for) Docker's repository."""

import pytest

DISTRO = "embedops-docker-engine-distro"
REPO = "embedops-docker-engine-repo"
testinfra_hosts = [DISTRO, REPO]
PINNED = "5:27.3.1-1~debian.12~bookworm"
KEYRING = "/etc/apt/keyrings/docker.gpg"


@pytest.fixture(scope="module")
def name(host):
    return host.check_output("hostname")


def test_distribution_engine_without_recommends(host, name):
    if name != DISTRO:
        pytest.skip("the distribution source's host")
    assert host.package("docker.io").is_installed
    assert host.package("apparmor").is_installed
    for package in ["docker-ce", "git", "needrestart"]:
        assert not host.package(package).is_installed, package
    assert not host.file("/etc/apt/sources.list.d/docker.sources").exists


def test_docker_ce_pinned_and_held_not_the_newer_one(host, name):
    if name != REPO:
        pytest.skip("the docker source's host")
    for package in ["docker-ce", "docker-ce-cli"]:
        assert host.package(package).version == PINNED  # the repository also holds 27.4.0
        assert host.check_output("dpkg --get-selections %s" % package).split() == [package, "hold"]
    assert host.package("containerd.io").is_installed
    assert not host.package("docker.io").is_installed


def test_repository_deb822_signed_by_the_dearmored_keyring_only(host, name):
    if name != REPO:
        pytest.skip("the docker source's host")
    assert host.file("/etc/apt/sources.list.d/docker.sources").content_string == (
        "# Managed by embedops.embeddings.docker_engine\n"
        "Types: deb\n"
        "URIs: file:///srv/docker-mirror\n"
        "Suites: bookworm\n"
        "Components: stable\n"
        "Architectures: amd64\n"
        "Signed-By: %s\n" % KEYRING)
    binary = host.file(KEYRING).content
    assert not binary.startswith(b"-----BEGIN") and binary[0] & 0x80  # OpenPGP packets, not ASCII armour
    assert "embedops test docker mirror" in host.check_output("gpg --show-keys --with-colons %s" % KEYRING)
    assert not host.file("/etc/apt/trusted.gpg").exists  # trusted for this repository only
