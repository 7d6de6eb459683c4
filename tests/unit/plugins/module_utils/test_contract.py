# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service contract every backend and the gateway publish: one shape, checked names, one model per pool."""

from __future__ import annotations

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils.contract import contract_errors, service_contract

VLLM_REPLICAS = [
    {"name": "embedops-vllm-0", "port": 8000, "url": "http://10.0.0.11:8000/v1",
     "container_address": "embedops-vllm-0:8000", "published_address": "10.0.0.11:8000", "cpuset": "0-3"},
    {"name": "embedops-vllm-1", "port": 8001, "url": "http://10.0.0.11:8001/v1",
     "container_address": "embedops-vllm-1:8000", "published_address": "10.0.0.11:8001"},
]


def test_a_vllm_contract_names_every_replica_and_the_first_as_the_endpoint():
    contract = service_contract(VLLM_REPLICAS, "vllm", "bge-m3", dimension="1024", api_key_required=True,
                                bind_address="10.0.0.11")
    assert contract["model"] == "bge-m3"
    assert contract["dimension"] == 1024
    assert contract["api_key_required"] is True
    assert contract["endpoint"] == "http://10.0.0.11:8000/v1"
    assert contract["endpoints"] == ["http://10.0.0.11:8000/v1", "http://10.0.0.11:8001/v1"]
    assert contract["local_endpoint"] == "http://10.0.0.11:8000/v1"
    assert [r["published_address"] for r in contract["replicas"]] == ["10.0.0.11:8000", "10.0.0.11:8001"]
    # Only the contract's keys: the role's plan (cpusets, env) stays in the role.
    assert "cpuset" not in contract["replicas"][0]


def test_a_wildcard_bind_gives_a_loopback_local_url_and_ipv6_is_bracketed():
    replicas = [{"name": "r0", "port": 8000, "url": "http://192.0.2.7:8000/v1"}]
    assert service_contract(replicas, "vllm", "m", bind_address="0.0.0.0")["local_endpoint"] == "http://127.0.0.1:8000/v1"
    assert service_contract(replicas, "vllm", "m", bind_address="::")["replicas"][0]["local_url"] == "http://[::1]:8000/v1"
    assert service_contract(replicas, "vllm", "m", bind_address="fd00::5")["local_endpoint"] == "http://[fd00::5]:8000/v1"


def test_a_service_without_replicas_is_its_endpoint():
    contract = service_contract([], "openai", "text-embedding-3-small", endpoint="https://api.openai.com/v1",
                                api_key_required=True, aliases=["text-embedding-3-small", "small"])
    assert contract["endpoints"] == ["https://api.openai.com/v1"]
    assert contract["local_endpoint"] == "https://api.openai.com/v1"
    assert contract["aliases"] == ["small"]  # the model itself is not its own alias
    assert contract["dimension"] is None


@pytest.mark.parametrize(("args", "kwargs", "says"), [
    (([], "vllm", "m"), {}, "needs replicas or an endpoint"),
    ((VLLM_REPLICAS, "triton", "m"), {}, "backend 'triton' is not one of"),
    ((VLLM_REPLICAS, "vllm", ""), {}, "needs the served model's name"),
    ((VLLM_REPLICAS, "vllm", "m"), {"dimension": "wide"}, "dimension 'wide' is not a whole number"),
    ((VLLM_REPLICAS, "vllm", "m"), {"dimension": -3}, "not a positive number"),
    (([{"name": "r0"}], "vllm", "m"), {}, "needs at least a name and a port"),
])
def test_what_cannot_be_a_contract_is_refused(args, kwargs, says):
    with pytest.raises(ValueError, match=says):
        service_contract(*args, **kwargs)


def test_contract_errors_name_the_source():
    assert contract_errors("nope", "x") == ["x is not a mapping: run site.yml on that host first"]
    assert "x has no model" in contract_errors({"version": 1, "backend": "vllm"}, "x")
    assert "x has version 0" in contract_errors(dict(service_contract(VLLM_REPLICAS, "vllm", "m"), version=0), "x")[0]


def test_a_backend_serves_one_pool_and_a_gateway_lists_each_of_its_models():
    backend = service_contract(VLLM_REPLICAS, "vllm", "bge-m3", dimension=1024, aliases=["text-embedding-3-small"])
    assert backend["pools"] == [{"model": "bge-m3", "aliases": ["text-embedding-3-small"], "dimension": 1024,
                                 "max_input_tokens": None, "long_input": None}]
    gateway = service_contract([], "gateway", "bge-m3", endpoint="http://10.0.0.20:8080/v1", dimension=1024, pools=[
        {"model": "bge-m3", "aliases": [], "dimension": 1024},
        {"model": "all-minilm-l6-v2", "aliases": ["minilm"], "dimension": "384", "max_input_tokens": 512}])
    assert [(p["model"], p["aliases"], p["dimension"], p["max_input_tokens"]) for p in gateway["pools"]] == [
        ("bge-m3", [], 1024, None), ("all-minilm-l6-v2", ["minilm"], 384, 512)]
    with pytest.raises(ValueError, match="names a model or alias twice across its pools: minilm"):
        service_contract([], "gateway", "bge-m3", endpoint="http://g/v1", aliases=["minilm"],
                         pools=[{"model": "all-minilm-l6-v2", "aliases": ["minilm"]}])


def test_the_context_and_what_happens_beyond_it_travel_with_the_contract():
    contract = service_contract(VLLM_REPLICAS, "vllm", "bge-m3", max_input_tokens="8192", long_input="refused")
    assert (contract["max_input_tokens"], contract["long_input"]) == (8192, "refused")
    unknown = service_contract(VLLM_REPLICAS, "vllm", "bge-m3")
    assert (unknown["max_input_tokens"], unknown["long_input"]) == (None, None)
    with pytest.raises(ValueError, match="long_input 'truncated' is not one of"):
        service_contract(VLLM_REPLICAS, "vllm", "bge-m3", long_input="truncated")
    with pytest.raises(ValueError, match="max_input_tokens 'long' is not a whole number"):
        service_contract(VLLM_REPLICAS, "vllm", "bge-m3", max_input_tokens="long")
