"""vllm_tuning: flags chosen from recorded nvidia-smi outputs and the model's size; explicit settings win."""

from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.filter import vllm_tuning as tuning_filter
from ansible_collections.embedops.embeddings.plugins.module_utils.nvidia_smi import parse_query
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import config_errors
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_tuning import (
    known_model,
    parse_count,
    tune,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nvidia_smi"


def gpus(name):
    return parse_query((FIXTURES / name).read_text())[0]


def gpu(settings, fixture, **kwargs):
    return tune(dict({"profile": "gpu"}, **settings), gpus(fixture), **kwargs)


def test_bge_m3_on_eight_h100_one_replica_per_gpu():
    result = gpu({"model": "BAAI/bge-m3"}, "h100_x8.csv")
    assert result["errors"] == []
    assert result["settings"] == {
        "dtype": "bfloat16", "max_model_len": 8192, "max_num_seqs": 1024, "max_num_batched_tokens": 8192,
        "tensor_parallel_size": 1, "replicas": 8, "gpu_memory_utilization": 0.9,
        "gpu_ids": ["0", "1", "2", "3", "4", "5", "6", "7"], "api_server_count": 1,
    }
    assert sorted(result["chosen"]) == sorted(result["settings"])
    assert result["estimate"]["weights"] == pytest.approx(1.06, abs=0.01)  # 567.8M x 2 bytes
    assert any(line.startswith("memory per GPU: ~2.9 GiB needed") for line in result["reasons"])


def test_t4_gets_float16_and_batched_tokens_not_below_the_context():
    result = gpu({"model": "BAAI/bge-m3"}, "t4_x4.csv")
    assert result["errors"] == []
    assert result["settings"]["dtype"] == "float16"
    assert result["settings"]["max_num_batched_tokens"] == 8192  # vLLM's 2048 would refuse an 8192 context
    assert result["settings"]["max_num_seqs"] == 256
    assert any("7.5 < 8.0" in line for line in result["reasons"])


def test_a10g_bfloat16_and_the_small_model_keeps_vllm_default_batch():
    result = gpu({"model": "sentence-transformers/all-MiniLM-L6-v2"}, "a10g.csv")
    assert result["errors"] == []
    assert result["settings"]["dtype"] == "bfloat16"
    assert result["settings"]["max_model_len"] == 512
    assert result["settings"]["max_num_batched_tokens"] == 2048
    assert result["settings"]["replicas"] == 1 and result["settings"]["gpu_ids"] == ["0"]


def test_mixed_cards_use_the_smallest_and_the_lowest_capability():
    result = gpu({"model": "nomic-ai/nomic-embed-text-v1.5"}, "rtx4090_t4_mixed.csv")
    assert result["settings"]["dtype"] == "float16"
    assert result["estimate"]["card"] == "Tesla T4"
    assert any(line.startswith("GPUs differ") for line in result["reasons"])


def test_explicit_settings_win_and_are_reported_as_set():
    given = {"model": "BAAI/bge-m3", "dtype": "float16", "max_num_seqs": "64", "max_num_batched_tokens": 16384,
             "gpu_memory_utilization": "0.5", "replicas": 2, "gpu_ids": ["6", "7"], "max_model_len": 4096}
    result = gpu(given, "h100_x8.csv")
    assert result["errors"] == []
    assert result["settings"] == {
        "dtype": "float16", "max_model_len": 4096, "max_num_seqs": 64, "max_num_batched_tokens": 16384,
        "tensor_parallel_size": 1, "replicas": 2, "gpu_memory_utilization": 0.5, "gpu_ids": ["6", "7"],
        "api_server_count": 1,
    }
    assert result["chosen"] == ["tensor_parallel_size", "api_server_count"]
    assert "dtype: float16, as set (vllm_dtype)" in result["reasons"]


def test_dtype_auto_counts_as_unset():
    assert gpu({"model": "BAAI/bge-m3", "dtype": "auto"}, "a10g.csv")["settings"]["dtype"] == "bfloat16"


def test_bfloat16_on_a_t4_is_refused():
    result = gpu({"model": "BAAI/bge-m3", "dtype": "bfloat16"}, "t4_x4.csv")
    assert any("vllm_dtype bfloat16 needs compute capability 8.0" in e and "7.5" in e for e in result["errors"])


def test_unknown_compute_capability_falls_back_to_float16():
    old = parse_query((FIXTURES / "v100_old_driver.csv").read_text(),
                      ("index", "uuid", "name", "memory.total", "memory.free", "driver_version", "mig.mode.current"))[0]
    result = tune({"model": "BAAI/bge-m3", "profile": "gpu"}, old)
    assert result["errors"] == [] and result["settings"]["dtype"] == "float16"


def test_mig_enabled_gpus_are_left_out():
    result = gpu({"model": "BAAI/bge-large-en-v1.5"}, "a100_mig.csv")
    assert result["settings"]["gpu_ids"] == ["1"] and result["settings"]["replicas"] == 1
    assert any("MIG is enabled" in line for line in result["reasons"])


def test_seven_b_decoder_does_not_fit_an_a10g_and_says_by_how_much():
    result = gpu({"model": "intfloat/e5-mistral-7b-instruct"}, "a10g.csv")
    (error,) = result["errors"]
    assert "needs ~23.7 GiB per GPU" in error and "leaves 20.2 GiB" in error
    assert "lower vllm_max_model_len (32768)" in error
    assert "vllm_tensor_parallel_size 2 needs 2; the host has 1" in error
    assert "bigger card" in error


def test_seven_b_decoder_splits_over_two_t4s():
    result = gpu({"model": "intfloat/e5-mistral-7b-instruct"}, "t4_x4.csv")
    assert result["errors"] == []
    assert result["settings"]["tensor_parallel_size"] == 2
    assert result["settings"]["replicas"] == 2 and result["settings"]["gpu_ids"] == ["0", "1", "2", "3"]
    assert result["estimate"]["needed"] <= result["estimate"]["available"]


def test_explicit_tensor_parallel_that_cannot_fit_names_the_fixes():
    result = gpu({"model": "intfloat/e5-mistral-7b-instruct", "tensor_parallel_size": 1, "max_num_seqs": 4},
                 "t4_x4.csv")
    (error,) = result["errors"]
    assert "raise vllm_tensor_parallel_size to 2" in error
    assert "fewer vllm_max_num_seqs" not in error  # 4 x 32768 tokens is more than one step holds anyway


def test_batch_is_lowered_toward_the_context_before_splitting():
    # 9.6B params (17.9 GiB in bf16) with 16384-wide activations on one A10G: 2048 tokens per step do not fit
    # (activations 1.25 GiB), 1024 do.
    result = gpu({"model": "acme/big-encoder", "max_model_len": 512}, "a10g.csv",
                 model_params="9.6B", model_hidden_size=16384)
    assert result["errors"] == []
    assert result["settings"]["tensor_parallel_size"] == 1
    assert result["settings"]["max_num_batched_tokens"] == 1024
    assert "max_num_batched_tokens: lowered to 1024 so the estimate fits" in result["reasons"]


def test_too_many_seqs_suggests_fewer():
    result = gpu({"model": "acme/big-encoder", "max_model_len": 512, "max_num_batched_tokens": 65536,
                  "tensor_parallel_size": 1}, "a10g.csv", model_params="9B", model_hidden_size=4096)
    (error,) = result["errors"]
    assert "lower vllm_max_num_batched_tokens (65536; not below vllm_max_model_len 512)" in error
    assert "set fewer vllm_max_num_seqs (256)" in error


def test_unknown_model_needs_a_size():
    result = gpu({"model": "acme/mystery", "max_model_len": 512}, "a10g.csv")
    assert any("vllm_model_params" in e and "vllm_tune: false" in e for e in result["errors"])


def test_unknown_model_with_overrides():
    result = gpu({"model": "acme/mystery"}, "a10g.csv", model_params="335M", model_context=512)
    assert result["errors"] == [] and result["settings"]["max_model_len"] == 512
    assert any("assumed 1024" in line for line in result["reasons"])
    weights = gpu({"model": "acme/mystery"}, "a10g.csv", model_weight_bytes=4 * 1024 ** 3, model_context=512)
    assert weights["estimate"]["weights"] == 4.0


def test_more_replicas_than_gpus_split_the_memory():
    result = gpu({"model": "BAAI/bge-m3", "replicas": 2}, "a10g.csv")
    assert result["errors"] == []
    assert result["settings"]["gpu_memory_utilization"] == 0.45
    assert "gpu_ids" not in result["settings"]  # shared: every replica sees the GPU
    assert any("share each GPU group" in line for line in result["reasons"])
    cfg = dict(model="BAAI/bge-m3", version="0.32.0", **{k: v for k, v in result["settings"].items() if v is not None})
    assert config_errors(cfg, gpu_count=1) == []


def test_batched_below_context_is_refused_without_chunked_prefill():
    result = gpu({"model": "BAAI/bge-m3", "max_num_batched_tokens": 2048}, "a10g.csv")
    assert any("vllm#33109" in e and "at least 8192" in e for e in result["errors"])
    assert gpu({"model": "BAAI/bge-m3", "max_num_batched_tokens": 2048, "enable_chunked_prefill": True},
               "a10g.csv")["errors"] == []


def test_no_gpu_says_what_to_do():
    result = tune({"model": "BAAI/bge-m3", "profile": "gpu"}, [])
    assert any("vllm_profile: cpu" in e for e in result["errors"])


def test_gpu_ids_that_the_host_lacks():
    result = gpu({"model": "BAAI/bge-m3", "gpu_ids": "0,5"}, "a10g.csv")
    assert any("vllm_gpu_ids lists 5" in e for e in result["errors"])


def test_gpu_ids_by_uuid():
    result = gpu({"model": "BAAI/bge-m3", "gpu_ids": ["GPU-9c3a6e2d-71b4-5f8e-a0d2-6b1e3c7f4a95"]},
                 "rtx4090_t4_mixed.csv")
    assert result["errors"] == [] and result["estimate"]["card"] == "Tesla T4"


def test_cpu_profile_float32_and_batch_not_below_context():
    result = tune({"model": "BAAI/bge-m3", "profile": "cpu", "replicas": 2}, None)
    assert result["errors"] == []
    assert result["settings"] == {"dtype": "float32", "max_model_len": 8192, "max_num_batched_tokens": 8192,
                                  "replicas": 2}
    assert result["estimate"] == {}


def test_bad_values_name_the_variable():
    result = gpu({"model": "BAAI/bge-m3", "max_num_seqs": "many", "gpu_memory_utilization": 1.5, "dtype": "fp8"},
                 "a10g.csv", model_params="lots")
    text = " ".join(result["errors"])
    for variable in ("vllm_max_num_seqs", "vllm_gpu_memory_utilization", "vllm_dtype", "vllm_model_params"):
        assert variable in text


def test_known_model_names_and_counts():
    assert known_model("BAAI/bge-m3") == "bge-m3"
    assert known_model("/models/bge-m3/") == "bge-m3"
    assert known_model("nomic-embed-text") == "nomic-embed-text-v1.5"
    assert known_model("intfloat/e5-mistral-7b-instruct") == "e5-mistral-7b-instruct"
    assert known_model("acme/other") is None
    assert parse_count("567M") == 567000000 and parse_count("7.1B") == 7100000000 and parse_count(22) == 22
    with pytest.raises(ValueError):
        parse_count(True)


def test_filter_is_the_module_utils():
    filters = tuning_filter.FilterModule().filters()
    assert list(filters) == ["vllm_tune"]
    settings = {"model": "BAAI/bge-m3", "profile": "gpu"}
    assert filters["vllm_tune"](settings, gpus=gpus("a10g.csv")) == tune(settings, gpus("a10g.csv"))


def test_gpu_without_memory_size_cannot_be_tuned():
    result = gpu({"model": "BAAI/bge-m3"}, "na_memory.csv")
    assert any("no memory size for GPU(s) 0" in e and "vllm_tune: false" in e for e in result["errors"])
