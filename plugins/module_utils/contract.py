# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service contract: what every backend role (vllm, ollama, openai_backend) and the gateway publish.

One shape for every backend, built here and nowhere else, so that the gateway, app_env, site.yml and the
operator playbooks read the same keys whichever backend serves:

    backend           vllm | ollama | openai | gateway
    model             the name clients send as `model`
    aliases           other names the same model answers to
    dimension         the length of its vectors (None until verified or declared)
    max_input_tokens  the model's context: longer inputs are refused or cut (None when not known)
    long_input        what the server does with a longer input: refused, end cut, start cut, accepted (None: not probed)
    api_key_required  whether a client must send a key (the key itself is never part of the contract)
    endpoint          the URL other hosts use (/v1): the first replica's, or the gateway's
    endpoints         every replica's URL (/v1), as other hosts reach it
    local_endpoint    the URL the service's own host uses (loopback for a wildcard bind)
    replicas          [{name, port, url, local_url, container_address, published_address}]
    pools             every model the endpoint serves: [{model, aliases, dimension, max_input_tokens, long_input}],
                      the first being the one above (a backend serves one; a gateway one per pool)

Roles publish it as the fact `embedops_service` and store it on the host as the local fact
`ansible_local.embedops_service` (/etc/ansible/facts.d/embedops_service.fact), so that an operator playbook run
later reads what was deployed instead of planning it again.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ansible_collections.embedops.embeddings.plugins.module_utils.endpoints import endpoint_url

VERSION = 1
BACKENDS = ("vllm", "ollama", "openai", "gateway")
REPLICA_KEYS = ("name", "port", "url", "local_url", "container_address", "published_address")
FACT_NAME = "embedops_service"
LONG_INPUT_OUTCOMES = (None, "", "refused", "end cut", "start cut", "accepted")


def _dimension(value: Any, name: str = "dimension") -> Optional[int]:
    if value in (None, "", 0, "0"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("%s %r is not a whole number" % (name, value)) from None
    if number < 1:
        raise ValueError("%s %d is not a positive number" % (name, number))
    return number


def _replica(replica: Mapping[str, Any], bind_address: Optional[str]) -> dict[str, Any]:
    if not isinstance(replica, Mapping) or not replica.get("name") or not replica.get("port"):
        raise ValueError("a replica needs at least a name and a port, got %r" % (replica,))
    port = int(replica["port"])
    local_url = replica.get("local_url") or endpoint_url(
        bind_address if bind_address is not None else "127.0.0.1", port, local=True)
    return {
        "name": str(replica["name"]),
        "port": port,
        "url": str(replica.get("url") or local_url),
        "local_url": str(local_url),
        "container_address": replica.get("container_address"),
        "published_address": replica.get("published_address"),
    }


def service_contract(replicas: Optional[Iterable[Mapping[str, Any]]], backend: str, model: str,
                     dimension: Any = None, api_key_required: bool = False,
                     aliases: Optional[Iterable[str]] = None, bind_address: Optional[str] = None,
                     endpoint: Optional[str] = None, local_endpoint: Optional[str] = None,
                     max_input_tokens: Any = None, long_input: Optional[str] = None,
                     pools: Optional[Iterable[Mapping[str, Any]]] = None) -> dict[str, Any]:
    """The contract of a backend serving `model` from `replicas` (the role's plan), or, with no replicas (the
    hosted API, a gateway), from `endpoint`. `pools`: a gateway's other models, each {model, aliases, dimension,
    max_input_tokens, long_input} (the first pool is `model` itself and may be left out)."""
    if long_input not in LONG_INPUT_OUTCOMES:
        raise ValueError("long_input %r is not one of %s" % (long_input, ", ".join(map(str, LONG_INPUT_OUTCOMES[1:]))))
    if backend not in BACKENDS:
        raise ValueError("backend %r is not one of %s" % (backend, ", ".join(BACKENDS)))
    if not isinstance(model, str) or not model.strip():
        raise ValueError("the %s contract needs the served model's name, got %r" % (backend, model))
    planned = [_replica(replica, bind_address) for replica in (replicas or [])]
    if not planned and not endpoint:
        raise ValueError("the %s contract needs replicas or an endpoint" % backend)
    names = [str(alias) for alias in (aliases or []) if str(alias).strip() and str(alias) != model]
    first = planned[0] if planned else {}
    own: dict[str, Any] = {"model": model.strip(), "aliases": sorted(set(names)), "dimension": _dimension(dimension),
                           "max_input_tokens": _dimension(max_input_tokens, "max_input_tokens"),
                           "long_input": long_input or None}
    served: list[dict[str, Any]] = [own]
    for pool in pools or []:
        if not isinstance(pool, Mapping) or not pool.get("model"):
            raise ValueError("a pool of the %s contract needs a model, got %r" % (backend, pool))
        if pool["model"] == own["model"]:
            continue
        served.append({"model": str(pool["model"]),
                       "aliases": sorted({str(a) for a in pool.get("aliases") or [] if str(a) != pool["model"]}),
                       "dimension": _dimension(pool.get("dimension")),
                       "max_input_tokens": _dimension(pool.get("max_input_tokens"), "max_input_tokens"),
                       "long_input": pool.get("long_input") or None})
    taken = [name for pool in served for name in [pool["model"]] + pool["aliases"]]
    if len(taken) != len(set(taken)):
        raise ValueError("the %s contract names a model or alias twice across its pools: %s"
                         % (backend, ", ".join(sorted({n for n in taken if taken.count(n) > 1}))))
    return {
        "version": VERSION,
        "backend": backend,
        **own,
        "api_key_required": bool(api_key_required),
        "endpoint": str(endpoint or first["url"]),
        "endpoints": [replica["url"] for replica in planned] or [str(endpoint)],
        "local_endpoint": str(local_endpoint or first.get("local_url") or endpoint),
        "replicas": planned,
        "pools": served,
    }


def contract_errors(contract: Any, source: str = "the contract") -> list[str]:
    """What is wrong with a published contract (a stale or hand-made fact), as messages naming `source`."""
    if not isinstance(contract, Mapping):
        return ["%s is not a mapping: run site.yml on that host first" % source]
    errors = []
    if contract.get("version") != VERSION:
        errors.append("%s has version %r, this collection writes %d: run site.yml on that host again"
                      % (source, contract.get("version"), VERSION))
    for key in ("backend", "model", "endpoint", "local_endpoint"):
        if not contract.get(key):
            errors.append("%s has no %s" % (source, key))
    return errors
