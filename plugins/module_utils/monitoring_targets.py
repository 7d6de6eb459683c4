# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus' scrape targets (static_configs) from what the roles published, for the monitoring role.

Each target is labelled with the inventory host that published it. A host whose role did not run in this run
(site.yml --limit, or a playbook without its play) has published nothing: it keeps the targets the last run wrote
for it, read back from Prometheus' own configuration, so a rolling update of one host does not stop the scraping,
and the alerting, of the others. A host no longer in the inventory's group is dropped.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

StaticConfig = Dict[str, Any]
Previous = Dict[str, Dict[str, List[StaticConfig]]]


def previous_targets(config: Optional[Mapping[str, Any]]) -> Previous:
    """{job_name: {host: [static_config, ...]}} of a prometheus.yml already parsed; entries without a host label
    (Prometheus itself, monitoring_extra_targets without one) are left out: they are not any host's to keep."""
    out: Previous = {}
    for job in (config or {}).get("scrape_configs") or []:
        hosts = out.setdefault(str(job.get("job_name", "")), {})
        for static in job.get("static_configs") or []:
            host = (static.get("labels") or {}).get("host")
            if host is not None:
                hosts.setdefault(str(host), []).append(dict(static))
    return out


def endpoint_targets(hosts: List[str], hostvars: Mapping[str, Any], fact: str,
                     previous: Optional[Mapping[str, List[StaticConfig]]] = None) -> List[StaticConfig]:
    """One target per host from its published endpoint URL (`fact`, such as gateway_metrics_endpoint); an empty
    URL is an exporter turned off; a host that published nothing keeps its `previous` targets."""
    out: List[StaticConfig] = []
    for host in hosts:
        url = hostvars[host].get(fact)  # None: this run does not know the host
        if url is None:
            out.extend((previous or {}).get(host, []))
        elif url:
            out.append({"targets": [urlsplit(str(url)).netloc], "labels": {"host": host}})
    return out


def replica_targets(hosts: List[str], hostvars: Mapping[str, Any], backend: str = "vllm",
                    previous: Optional[Mapping[str, List[StaticConfig]]] = None) -> List[StaticConfig]:
    """One target per replica of `backend` from each host's service contract (embedops_service), labelled with the
    model and the replica's name; a host that published no contract keeps its `previous` targets."""
    out: List[StaticConfig] = []
    for host in hosts:
        contract = hostvars[host].get("embedops_service")
        if contract is None:
            out.extend((previous or {}).get(host, []))
            continue
        if contract.get("backend") != backend:
            continue
        for replica in contract.get("replicas") or []:
            address = replica.get("published_address")
            if address:
                out.append({"targets": [address], "labels": {
                    "model": contract.get("model", ""), "replica": replica.get("name") or address, "host": host}})
    return out
