"""The host that installs the engine from Debian's archive (docker_engine_source: distribution)."""

testinfra_hosts = ["embedops-docker-engine-distro"]


def test_distribution_engine_without_recommends(host):
    assert host.package("docker.io").is_installed
    assert host.package("apparmor").is_installed
    for package in ["docker-ce", "git", "needrestart"]:
        assert not host.package(package).is_installed, package
    assert not host.file("/etc/apt/sources.list.d/docker.sources").exists
