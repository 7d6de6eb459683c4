# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's pools: one per served model, names that route to exactly one, servers named once."""

from __future__ import annotations

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils.contract import service_contract
from ansible_collections.embedops.embeddings.plugins.module_utils.gateway_pools import plan_pools


def replicas(host, prefix, count=2, port=8000):
    return [{"name": "%s-%d" % (prefix, i), "port": port + i, "url": "http://%s:%d/v1" % (host, port + i),
             "container_address": "%s-%d:8000" % (prefix, i), "published_address": "%s:%d" % (host, port + i)}
            for i in range(count)]


def hostvars(**contracts):
    return {host: ({"embedops_service": c} if c is not None else {}) for host, c in contracts.items()}


GPU1 = service_contract(replicas("10.0.0.11", "vllm-gpu1"), "vllm", "bge-m3", dimension=1024, max_input_tokens=8192,
                        aliases=["text-embedding-3-small"])
GPU2 = service_contract(replicas("10.0.0.12", "vllm-gpu2"), "vllm", "bge-m3", dimension=1024, max_input_tokens=8192,
                        aliases=["text-embedding-3-small"])
CPU1 = service_contract(replicas("10.0.0.13", "vllm-cpu1", 1), "vllm", "all-minilm-l6-v2", dimension=384,
                        max_input_tokens=512)


def test_one_model_is_one_pool_named_replicas_and_hosts_without_a_contract_are_left_out():
    pools = plan_pools(["gpu1", "gpu2", "failed"], hostvars(gpu1=GPU1, gpu2=GPU2, failed=None))
    assert len(pools) == 1
    pool = pools[0]
    assert (pool["backend"], pool["model"]) == ("replicas", "bge-m3")
    assert pool["names"] == ["bge-m3", "text-embedding-3-small"]
    assert [(s["name"], s["address"]) for s in pool["servers"]] == [
        ("vllm-gpu1-0", "10.0.0.11:8000"), ("vllm-gpu1-1", "10.0.0.11:8001"),
        ("vllm-gpu2-0", "10.0.0.12:8000"), ("vllm-gpu2-1", "10.0.0.12:8001")]
    assert pool["endpoints"] == ["http://10.0.0.11:8000/v1", "http://10.0.0.11:8001/v1",
                                 "http://10.0.0.12:8000/v1", "http://10.0.0.12:8001/v1"]
    assert (pool["hosts"], pool["dimension"], pool["max_input_tokens"]) == (["gpu1", "gpu2"], 1024, 8192)
    assert plan_pools(["failed"], hostvars(failed=None)) == []


def test_hosts_serving_different_models_get_a_pool_each_in_inventory_order():
    pools = plan_pools(["gpu1", "cpu1", "gpu2"], hostvars(gpu1=GPU1, cpu1=CPU1, gpu2=GPU2),
                       backend_mode="container")
    assert [(p["backend"], p["model"], p["hosts"]) for p in pools] == [
        ("replicas_bge-m3", "bge-m3", ["gpu1", "gpu2"]), ("replicas_all-minilm-l6-v2", "all-minilm-l6-v2", ["cpu1"])]
    assert [s["address"] for s in pools[1]["servers"]] == ["vllm-cpu1-0:8000"]
    assert pools[1]["dimension"] == 384


def test_backend_names_are_haproxy_names_and_stay_distinct():
    a = service_contract(replicas("h1", "a"), "vllm", "BAAI/bge-m3")
    b = service_contract(replicas("h2", "b"), "vllm", "BAAI_bge-m3")
    pools = plan_pools(["h1", "h2"], hostvars(h1=a, h2=b))
    assert [p["backend"] for p in pools] == ["replicas_BAAI_bge-m3", "replicas_BAAI_bge-m3_2"]


def test_explicit_backends_name_their_model_or_take_the_default():
    backends = [{"name": "r0", "address": "r0:8000"},
                {"name": "r1", "address": "r1:8000", "model": "text-embedding-3-small", "aliases": ["small"]}]
    pools = plan_pools([], {}, backends=backends, model="all-minilm-l6-v2")
    assert [(p["model"], p["names"], [s["name"] for s in p["servers"]]) for p in pools] == [
        ("all-minilm-l6-v2", ["all-minilm-l6-v2"], ["r0"]),
        ("text-embedding-3-small", ["text-embedding-3-small", "small"], ["r1"])]
    # Without a default, the one model the hosts publish; without either, an empty model (the role's preflight
    # names gateway_verify_model).
    assert plan_pools(["cpu1"], hostvars(cpu1=CPU1), backends=backends[:1])[0]["model"] == "all-minilm-l6-v2"
    assert plan_pools([], {}, backends=backends[:1])[0]["model"] == ""


@pytest.mark.parametrize(("hosts", "backends", "says"), [
    # One name, two models.
    ({"gpu1": GPU1, "cpu1": service_contract(replicas("h", "c"), "vllm", "all-minilm-l6-v2",
                                             aliases=["text-embedding-3-small"])},
     None, "the name text-embedding-3-small is served by two models, bge-m3 and all-minilm-l6-v2"),
    # One model, different aliases on two hosts.
    ({"gpu1": GPU1, "gpu2": service_contract(replicas("10.0.0.12", "vllm-gpu2"), "vllm", "bge-m3")},
     None, "gpu1 and gpu2 both serve bge-m3 but under different aliases"),
    # Two hosts, the same container names: HAProxy would get two servers of one name.
    ({"gpu1": GPU1, "gpu2": service_contract(replicas("10.0.0.12", "vllm-gpu1"), "vllm", "bge-m3",
                                             aliases=["text-embedding-3-small"])},
     None, r"two servers of the gateway are named vllm-gpu1-0 \(vllm-gpu1-0 on gpu1 and vllm-gpu1-0 on gpu2\)"),
    # A name HAProxy cannot match, once there is routing.
    ({}, [{"name": "r0", "address": "r0:8000", "model": "a model"}, {"name": "r1", "address": "r1:8000", "model": "b"}],
     "the model name 'a model' cannot be routed by the gateway"),
    ({}, ["r0:8000"], r"gateway_backends\[0\] is 'r0:8000'"),
    ({"gpu1": dict(GPU1, version=0)}, None, "embedops_service on gpu1 has version 0"),
])
def test_what_the_gateway_cannot_route_is_refused_naming_it(hosts, backends, says):
    with pytest.raises(ValueError, match=says):
        plan_pools(list(hosts), hostvars(**hosts), backends=backends, model="m")
