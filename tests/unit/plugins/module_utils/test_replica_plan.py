"""What the backends' planners share (replica_plan), and the collection's one table of known models."""

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import vllm_config, vllm_tuning
from ansible_collections.embedops.embeddings.plugins.module_utils.replica_plan import (
    cpu_ids,
    cpu_shares,
    cpuset_text,
    gpu_device_requests,
    host_ports,
    replica_endpoints,
    split_evenly,
)


def test_host_ports_from_a_base_or_a_list():
    assert host_ports(8000, None, 3) == [8000, 8001, 8002]
    assert host_ports(8000, [9000, 9100], 2) == [9000, 9100]


def test_cpu_and_gpu_split():
    assert split_evenly([0, 1, 2, 3, 4], 2) == [[0, 1, 2], [3, 4]]
    assert cpuset_text([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert cpu_ids("0-2,8") == [0, 1, 2, 8] and cpu_ids([0, "2-3"]) == [0, 2, 3]
    with pytest.raises(ValueError):
        cpu_ids("3-1")
    assert cpu_shares(None, None, 2) == [None, None]
    assert cpu_shares([0, 1, 2, 3], None, 2) == [[0, 1], [2, 3]]
    assert cpu_shares([0, 1], [[4, 5], [6, 7]], 2) == [[4, 5], [6, 7]]
    assert gpu_device_requests(["0", "1", "2", "3"], 2, 1)[0]["device_ids"] == ["2", "3"]
    assert gpu_device_requests(None, 2, 1) == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]


def test_endpoints_name_publish_and_address_each_replica():
    first, second = replica_endpoints("svc", [9000, 9001], "0.0.0.0", None, 1234)
    assert first == {"name": "svc-0", "index": 0, "port": 9000, "published_ports": ["0.0.0.0:9000:1234"],
                     "url": "http://127.0.0.1:9000/v1", "container_address": "svc-0:1234",
                     "published_address": "127.0.0.1:9000", "container_port": 1234}
    assert second["name"] == "svc-1" and second["published_ports"] == ["0.0.0.0:9001:1234"]
    (v6,) = replica_endpoints("svc", [9000], "::", "fd00::5", 1234)
    assert v6["published_ports"] == ["[::]:9000:1234"] and v6["url"] == "http://[fd00::5]:9000/v1"
    assert v6["published_address"] == "[fd00::5]:9000"


def test_one_table_of_known_models_with_aliases_everywhere():
    assert vllm_tuning.KNOWN_MODELS is vllm_config.KNOWN_MODELS
    assert vllm_tuning.known_model is vllm_config.known_model
    assert vllm_config.known_model("all-minilm") == "all-minilm-l6-v2"
    assert vllm_config.known_model("/models/BGE-M3/") == "bge-m3"
    assert set(vllm_config.RECIPES) <= set(vllm_config.KNOWN_MODELS)


def test_vllm_recipes_through_an_alias_and_only_for_models_that_have_one():
    alias = vllm_config.render_args({"model": "m", "known_model": "BAAI/bge-m3", "version": "0.32.0"})
    assert alias[alias.index("--max-model-len") + 1] == "8192"
    minilm = vllm_config.render_args({"model": "sentence-transformers/all-MiniLM-L6-v2", "version": "0.32.0"})
    assert "--max-model-len" not in minilm
    assert "no recipe" in vllm_config.config_errors({"model": "m", "known_model": "all-minilm", "version": "0.32.0"})[0]
