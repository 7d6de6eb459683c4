"""monitoring_targets: Prometheus' targets from what the roles published, and a host the run does not know keeping
the targets the last run gave it (a rolling update with --limit must not stop the scraping of the other hosts)."""

from __future__ import annotations

from ansible_collections.embedops.embeddings.plugins.module_utils.monitoring_targets import (
    endpoint_targets,
    previous_targets,
    replica_targets,
)

CONFIG = {"scrape_configs": [
    {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:9090"]}]},
    {"job_name": "embedops-gateway", "static_configs": [
        {"targets": ["10.0.0.21:8405"], "labels": {"host": "gw1"}},
        {"targets": ["10.0.0.22:8405"], "labels": {"host": "gw2"}}]},
    {"job_name": "embedops-vllm", "static_configs": [
        {"targets": ["10.0.0.11:8000"], "labels": {"model": "bge-m3", "replica": "vllm-0", "host": "gpu1"}},
        {"targets": ["10.0.0.11:8001"], "labels": {"model": "bge-m3", "replica": "vllm-1", "host": "gpu1"}}]},
]}


def test_previous_targets_by_job_and_host_without_unlabelled_ones():
    previous = previous_targets(CONFIG)
    assert previous["prometheus"] == {}
    assert sorted(previous["embedops-gateway"]) == ["gw1", "gw2"]
    assert [s["targets"] for s in previous["embedops-vllm"]["gpu1"]] == [["10.0.0.11:8000"], ["10.0.0.11:8001"]]
    assert previous_targets(None) == {} and previous_targets({}) == {}


def test_endpoint_targets_from_this_run_and_kept_for_hosts_it_does_not_know():
    hostvars = {"gw1": {"gateway_metrics_endpoint": "http://10.0.0.21:8405/metrics"},
                "gw2": {},                                     # --limit: the gateway role did not run there
                "gw3": {"gateway_metrics_endpoint": ""}}       # its exporter is off
    previous = previous_targets(CONFIG)["embedops-gateway"]
    assert endpoint_targets(["gw1", "gw2", "gw3"], hostvars, "gateway_metrics_endpoint", previous) == [
        {"targets": ["10.0.0.21:8405"], "labels": {"host": "gw1"}},
        {"targets": ["10.0.0.22:8405"], "labels": {"host": "gw2"}}]
    # A host gone from the group is gone from the targets; without a previous configuration nothing is kept.
    assert endpoint_targets(["gw1"], hostvars, "gateway_metrics_endpoint", previous) == [
        {"targets": ["10.0.0.21:8405"], "labels": {"host": "gw1"}}]
    assert endpoint_targets(["gw2"], hostvars, "gateway_metrics_endpoint") == []


def test_endpoint_targets_bracket_ipv6():
    hostvars = {"gw6": {"gateway_metrics_endpoint": "http://[fd00::21]:8405/metrics"}}
    assert endpoint_targets(["gw6"], hostvars, "gateway_metrics_endpoint") == [
        {"targets": ["[fd00::21]:8405"], "labels": {"host": "gw6"}}]


def test_replica_targets_from_contracts_other_backends_skipped_unknown_hosts_kept():
    hostvars = {
        "gpu1": {},  # not in this run
        "gpu2": {"embedops_service": {"backend": "vllm", "model": "bge-m3", "replicas": [
            {"name": "embedops-vllm-0", "published_address": "10.0.0.12:8000"},
            {"name": "embedops-vllm-1", "published_address": ""}]}},
        "ollama1": {"embedops_service": {"backend": "ollama", "model": "all-minilm", "replicas": [
            {"name": "embedops-ollama-0", "published_address": "10.0.0.13:11434"}]}},
    }
    previous = previous_targets(CONFIG)["embedops-vllm"]
    assert replica_targets(["gpu1", "gpu2", "ollama1"], hostvars, "vllm", previous) == [
        {"targets": ["10.0.0.11:8000"], "labels": {"model": "bge-m3", "replica": "vllm-0", "host": "gpu1"}},
        {"targets": ["10.0.0.11:8001"], "labels": {"model": "bge-m3", "replica": "vllm-1", "host": "gpu1"}},
        {"targets": ["10.0.0.12:8000"], "labels": {"model": "bge-m3", "replica": "embedops-vllm-0", "host": "gpu2"}}]
