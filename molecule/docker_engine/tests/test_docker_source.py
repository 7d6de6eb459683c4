"""The host that installs the engine from (a stand-in for) Docker's repository (docker_engine_source: docker)."""

testinfra_hosts = ["embedops-docker-engine-repo"]
PINNED = "5:27.3.1-1~debian.12~bookworm"
KEYRING = "/etc/apt/keyrings/docker.gpg"


def test_docker_ce_pinned_and_held_not_the_newer_one(host):
    for package in ["docker-ce", "docker-ce-cli"]:
        assert host.package(package).version == PINNED  # the repository also holds 27.4.0
        assert host.check_output("dpkg --get-selections %s" % package).split() == [package, "hold"]
    assert host.package("containerd.io").is_installed
    assert not host.package("docker.io").is_installed


def test_repository_deb822_signed_by_the_dearmored_keyring_only(host):
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
