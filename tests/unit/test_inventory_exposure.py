"""What each inventory exposes: every service binds to 127.0.0.1 unless the inventory opens it on
purpose, and in prod the gateway is the only endpoint on all interfaces (the replicas listen on
their host's private address and require the key only the gateway holds).

Each host's bind addresses are resolved by Ansible itself (the debug action, which connects to
nothing) from the inventory over the roles' defaults."""

import ipaddress
import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg:
          groups: "{{ group_names }}"
          vllm: "{{ vllm_bind_address | default(%(vllm)s) }}"
          ollama: "{{ ollama_bind_address | default(%(ollama)s) }}"
          ollama_webui: "{{ ollama_webui_bind_address | default(ollama_bind_address | default(%(ollama)s)) }}"
          gateway: "{{ gateway_bind_address | default(%(gateway)s) }}"
          gateway_metrics: "{{ gateway_metrics_bind_address | default(%(gateway_metrics)s) }}"
          prometheus: "{{ monitoring_bind_address | default(%(monitoring)s) }}"
          node_exporter: "{{ monitoring_node_exporter_bind_address | default(%(monitoring_node_exporter)s) }}"
"""


def role_default(role, variable):
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
        return "'%s'" % yaml.safe_load(handle)[variable]


def bind_addresses(inventory, tmp_path):
    """{host: (addresses by service, groups)}, as Ansible resolves them for each host."""
    playbook = tmp_path / "exposure.yml"
    defaults = {role: role_default(role, role + "_bind_address")
                for role in ("vllm", "ollama", "gateway", "monitoring")}
    defaults["gateway_metrics"] = role_default("gateway", "gateway_metrics_bind_address")
    defaults["monitoring_node_exporter"] = role_default("monitoring", "monitoring_node_exporter_bind_address")
    playbook.write_text(PLAY % defaults)
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
         os.path.join(ROOT, "inventories", inventory), str(playbook)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env=dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    hosts = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]
    return {host: ({k: v for k, v in r["msg"].items() if k != "groups"}, r["msg"]["groups"])
            for host, r in hosts.items()}


RUNS = {"vllm": "embedding_hosts", "ollama": "embedding_hosts", "gateway": "gateway_hosts"}
# Metrics need no key: wherever they run they listen on loopback or a private address, never everywhere.
METRICS = {"gateway_metrics": "gateway_hosts", "prometheus": "monitoring_hosts", "node_exporter": None}


def metrics_addresses(host_info):
    addresses, groups = host_info
    return {name: addresses[name] for name, group in METRICS.items() if group is None or group in groups}


def exposed(host_info, backend):
    """The services this host runs that listen on every interface."""
    addresses, groups = host_info
    names = [n for n in ("vllm", "ollama", "gateway") if RUNS[n] in groups and (n == "gateway" or n == backend)]
    if "ollama" in names:
        names.append("ollama_webui")
    return sorted(n for n in names if addresses[n] in ("0.0.0.0", "::"))


@pytest.mark.parametrize("inventory,backend", [("local", "vllm"), ("dev", "ollama"), ("openai", "openai")])
def test_nothing_listens_beyond_loopback(inventory, backend, tmp_path):
    for host, info in bind_addresses(inventory, tmp_path).items():
        assert exposed(info, backend) == [], host
        addresses, groups = info
        for name in ("vllm", "ollama", "gateway"):
            if RUNS[name] in groups:
                assert ipaddress.ip_address(addresses[name]).is_loopback, (host, name, addresses[name])


def test_prod_exposes_the_gateway_only(tmp_path):
    hosts = bind_addresses("prod", tmp_path)
    gateways = [h for h, info in hosts.items() if "gateway_hosts" in info[1]]
    replicas = [h for h, info in hosts.items() if "embedding_hosts" in info[1]]
    assert gateways and replicas
    for host in gateways:
        assert exposed(hosts[host], "vllm") == ["gateway"], host
    for host in replicas:
        address = ipaddress.ip_address(hosts[host][0]["vllm"])
        assert address.is_private and not address.is_unspecified and not address.is_loopback, (host, address)


@pytest.mark.parametrize("inventory", ["local", "dev", "openai", "prod"])
def test_metrics_stay_off_public_interfaces(inventory, tmp_path):
    hosts = bind_addresses(inventory, tmp_path)
    if inventory == "prod":
        assert any("monitoring_hosts" in info[1] for info in hosts.values()), "prod has no monitoring host"
    for host, info in hosts.items():
        for name, address in metrics_addresses(info).items():
            address = ipaddress.ip_address(address)
            assert address.is_loopback or (address.is_private and not address.is_unspecified), (host, name, address)
