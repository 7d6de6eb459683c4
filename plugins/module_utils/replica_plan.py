# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every backend's replica planner shares: settings read from role variables, host ports, container names,
the addresses a replica is reached on, and the split of the host's CPUs and GPUs between replicas.

Pure Python (stdlib only). vllm_config.plan_replicas and ollama_config.plan_replicas build on it, so a replica
is named, published and addressed the same way whatever serves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterable, Optional, Sequence

from ansible_collections.embedops.embeddings.plugins.module_utils.endpoints import (
    advertise_host,
    endpoint_url,
    url_host,
)

# The host a replica's URL names when neither an advertised host nor a routable bind address is given.
LOOPBACK = "127.0.0.1"


# --- reading role variables ------------------------------------------------------------------------------------
def unset(value: Any) -> bool:
    """None, "" or an empty list or dict: the variable is left at its default."""
    return value is None or (isinstance(value, (str, list, tuple, Mapping)) and not value)


def as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(value)
    return int(value)


def as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    return float(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(value)


def as_str(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError(value)
    return str(value)


def as_list(value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise TypeError(value)
    return list(value)


def as_dict(value: Any) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(value)
    return dict(value)


def gpu_ids(value: Any) -> list[str]:
    """GPU ids as Docker wants them (strings), from a list or a "0,1" string."""
    return [str(g).strip() for g in (value.split(",") if isinstance(value, str) else as_list(value))]


def cpu_ids(value: Any) -> list[int]:
    """[0, 1, 2, ...] from CPU ids, "a-b" ranges, or a cpuset string."""
    ids: list[int] = []
    for item in value.split(",") if isinstance(value, str) else as_list(value):
        low_text, _dash, high_text = as_str(item).strip().partition("-")
        low, high = int(low_text), int(high_text or low_text)
        if high < low:
            raise ValueError(item)
        ids.extend(range(low, high + 1))
    return ids


# --- the split between replicas ----------------------------------------------------------------------------------
def cpuset_text(ids: Iterable[int]) -> str:
    """Docker/OpenMP cpuset text for CPU ids: [0, 1, 2, 5] -> "0-2,5"."""
    runs: list[list[int]] = []
    for cpu in ids:
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(low) if low == high else "%d-%d" % (low, high) for low, high in runs)


def split_evenly(items: Sequence[Any], parts: int) -> list[Any]:
    """items in `parts` consecutive slices whose lengths differ by at most one."""
    size, extra = divmod(len(items), parts)
    slices: list[Any] = []
    start = 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        slices.append(items[start:end])
        start = end
    return slices


def cpu_shares(cpus: Optional[Sequence[int]], cpu_sets: Optional[Sequence[Sequence[int]]],
               count: int) -> list[Any]:
    """Each replica's CPUs: its own set from cpu_sets, else its even share of cpus, else None (not pinned)."""
    if cpu_sets:
        return list(cpu_sets)
    if cpus:
        return split_evenly(cpus, count)
    return [None] * count


def gpu_device_requests(ids: Optional[Sequence[str]], per_replica: int, index: int) -> list[dict[str, Any]]:
    """Docker's device request for replica `index`: its group of `per_replica` GPUs from ids, or every GPU."""
    if ids:
        return [{"driver": "nvidia", "device_ids": list(ids[index * per_replica:(index + 1) * per_replica]),
                 "capabilities": [["gpu"]]}]
    return [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]


# --- ports, names and addresses ----------------------------------------------------------------------------------
def host_ports(port: int, ports: Optional[Sequence[int]], count: int) -> list[int]:
    """The replicas' host ports: the explicit list, else port, port + 1, ... one per replica."""
    return list(ports) if ports else [port + i for i in range(count)]


def replica_name(prefix: Any, index: int) -> str:
    return "%s-%d" % (prefix, index)


def replica_endpoints(prefix: Any, ports: Sequence[int], bind_address: Any, advertised: Any,
                      container_port: int) -> list[dict[str, Any]]:
    """Per replica: index, name, port, published_ports, url, container_address, published_address, container_port.

    The container listens on container_port, published on bind_address:port. url and published_address name the
    advertised host (default: the bind address, loopback for a wildcard); container_address is how a gateway on a
    shared Docker network reaches it by name.
    """
    host = advertised or advertise_host(bind_address, LOOPBACK)
    replicas: list[dict[str, Any]] = []
    for i, port in enumerate(ports):
        name = replica_name(prefix, i)
        replicas.append({
            "name": name,
            "index": i,
            "port": port,
            "published_ports": ["%s:%d:%d" % (url_host(bind_address), port, container_port)],
            "url": endpoint_url(host, port),
            # How a gateway reaches it: by container name on a shared Docker network, or published.
            "container_address": "%s:%d" % (name, container_port),
            "published_address": "%s:%d" % (url_host(host), port),
            "container_port": container_port,
        })
    return replicas
