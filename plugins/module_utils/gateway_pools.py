# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's pools: one per served model, each with its own servers, health checks, drain and retries.

A gateway in front of hosts that serve different models (bge-m3 on GPU hosts, a small model on CPU hosts) routes
each request by the `model` of its body to that model's pool. Every name a client may send (the model and its
aliases) belongs to exactly one pool. With one pool the gateway routes nothing and its backend keeps the name
`replicas`; with several, each backend is `replicas_<model>`.

Servers come from the service contracts the backend roles published (plugins/module_utils/contract.py), or from
explicit `gateway_backends` entries, which may name their model and aliases.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

from ansible_collections.embedops.embeddings.plugins.module_utils.contract import FACT_NAME, contract_errors

SINGLE_BACKEND = "replicas"
# What the gateway can put in an ACL and a JSON string unchanged: what vLLM and Ollama names look like
# (BAAI/bge-m3, bge-m3:latest, text-embedding-3-small).
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}\Z")


def _backend_name(model: str, taken: set[str]) -> str:
    name = "replicas_" + re.sub(r"[^A-Za-z0-9_.-]", "_", model)
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = "%s_%d" % (name, n), n + 1
    taken.add(candidate)
    return candidate


def _new_pool(model: str) -> dict[str, Any]:
    return {"model": model, "aliases": None, "servers": [], "endpoints": [], "sources": [], "dimension": None,
            "max_input_tokens": None, "long_input": None}


def _add_aliases(pool: dict[str, Any], aliases: Iterable[str], source: str) -> None:
    names = sorted({str(a) for a in aliases or [] if str(a).strip() and str(a) != pool["model"]})
    if pool["aliases"] is None:
        pool["aliases"], pool["alias_source"] = names, source
    elif names != pool["aliases"]:
        raise ValueError(
            "%s and %s both serve %s but under different aliases (%s against %s): the gateway sends an alias to "
            "any server of the model's pool, so every server must answer to it. Give them the same aliases "
            "(vllm_served_model_aliases, ollama_model_aliases)."
            % (pool["alias_source"], source, pool["model"], ", ".join(pool["aliases"]) or "none",
               ", ".join(names) or "none"))


def plan_pools(hosts: Optional[Iterable[str]], hostvars: Mapping[str, Any], backends: Optional[list] = None,
               model: str = "", backend_mode: str = "published", fact: str = FACT_NAME) -> list[dict[str, Any]]:
    """The gateway's pools, in the order their models first appear (the first is the gateway's default model).

    hosts/hostvars: the hosts of gateway_backend_group, whose published contracts (`fact`) give the servers;
    hosts without the fact (failed, or not in this run) are left out.
    backends: explicit gateway_backends entries ({name, address, model?, aliases?}); when given, they are the
    servers, and an entry without a model serves `model`, or else the one model the hosts publish.
    backend_mode: published or container, the address of a contract's replica the gateway uses.

    Each pool: backend (HAProxy's name for it), model, aliases, names (model and aliases), servers
    [{name, address, source}], endpoints (the replicas' own URLs, for the agreement check), hosts, and the
    dimension, max_input_tokens and long_input the contracts published.
    """
    contracts: list[tuple[str, Mapping[str, Any]]] = []
    for host in hosts or []:
        host_vars = hostvars[host]
        if fact not in host_vars:
            continue
        contract = host_vars[fact]
        errors = contract_errors(contract, "%s on %s" % (fact, host))
        if errors:
            raise ValueError("; ".join(errors))
        contracts.append((str(host), contract))

    pools: dict[str, dict[str, Any]] = {}
    if backends:
        served = sorted({c["model"] for _host, c in contracts})
        default_model = model or (served[0] if len(served) == 1 else "")
        for i, entry in enumerate(backends):
            if not isinstance(entry, Mapping):
                raise ValueError("gateway_backends[%d] is %r: each entry is {name, address} (model and aliases "
                                 "optional)" % (i, entry))
            entry_model = str(entry.get("model") or default_model)
            source = "gateway_backends[%d] (%s)" % (i, entry.get("name", "no name"))
            pool = pools.setdefault(entry_model, _new_pool(entry_model))
            _add_aliases(pool, entry.get("aliases") or [], source)
            server = dict(entry)
            server.setdefault("address", entry.get(backend_mode + "_address", ""))
            server["source"] = source
            pool["servers"].append(server)
    else:
        for host, contract in contracts:
            pool = pools.setdefault(contract["model"], _new_pool(contract["model"]))
            _add_aliases(pool, contract.get("aliases") or [], host)
            for replica in contract.get("replicas") or []:
                pool["servers"].append({"name": replica.get("name"),
                                        "address": replica.get(backend_mode + "_address") or "",
                                        "source": "%s on %s" % (replica.get("name"), host)})
            pool["endpoints"].extend(contract.get("endpoints") or [])
            pool["sources"].append(host)
            for key in ("dimension", "max_input_tokens", "long_input"):
                value = contract.get(key)
                if value and (pool[key] is None or (key == "max_input_tokens" and value < pool[key])):
                    pool[key] = value

    _check(pools)
    taken: set[str] = set()
    several = len(pools) > 1
    planned = []
    for pool_model, pool in pools.items():
        planned.append({
            "backend": _backend_name(pool_model, taken) if several else SINGLE_BACKEND,
            "model": pool_model,
            "aliases": pool["aliases"] or [],
            "names": [pool_model] + (pool["aliases"] or []),
            "servers": pool["servers"],
            "endpoints": list(dict.fromkeys(pool["endpoints"])),
            "hosts": pool["sources"],
            "dimension": pool["dimension"],
            "max_input_tokens": pool["max_input_tokens"],
            "long_input": pool["long_input"],
        })
    return planned


def _check(pools: Mapping[str, Mapping[str, Any]]) -> None:
    owner: dict[str, str] = {}
    for pool_model, pool in pools.items():
        for name in [pool_model] + (pool["aliases"] or []):
            if name in owner and owner[name] != pool_model:
                raise ValueError(
                    "the name %s is served by two models, %s and %s (as a model or an alias): a request that names "
                    "it could go to either pool. Give every served model and alias its own name "
                    "(vllm_served_model_name, vllm_served_model_aliases)." % (name, owner[name], pool_model))
            owner[name] = pool_model
    if len(pools) > 1:
        for name in owner:
            if name and not NAME_RE.match(name):
                raise ValueError(
                    "the model name %r cannot be routed by the gateway: with several models behind one gateway, "
                    "each name (model or alias) is matched in HAProxy and listed in /v1/models, so it may hold "
                    "only letters, digits and . _ : / @ + - (at most 128). Serve it under such a name "
                    "(vllm_served_model_name, vllm_served_model_aliases)." % name)
    seen: dict[str, str] = {}
    for pool in pools.values():
        for server in pool["servers"]:
            name = str(server.get("name") or "")
            if name and name in seen:
                raise ValueError(
                    "two servers of the gateway are named %s (%s and %s): HAProxy knows a replica by its name, to "
                    "check, drain and count it, so each needs its own. Give every host of the group its own "
                    "container prefix, such as vllm_container_prefix: \"embedops-vllm-{{ inventory_hostname_short "
                    "}}\" (or ollama_container_prefix), or rename the gateway_backends entry."
                    % (name, seen[name], server["source"]))
            seen[name] = server["source"]
