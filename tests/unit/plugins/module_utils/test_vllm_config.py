"""vLLM flags across versions, the known-model recipes, the checks, and the container specs."""

import json

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import (
    config_errors,
    parse_version,
    plan_replicas,
    render_args,
)

BGE = {"model": "BAAI/bge-m3", "version": "0.32.0"}


def flag(args, name):
    """The value after `name` in args (None when absent)."""
    return args[args.index(name) + 1] if name in args else None


@pytest.mark.parametrize("text, expected", [
    ("0.32.0", (0, 32, 0)),
    ("v0.11.2", (0, 11, 2)),
    ("0.10.1.post1", (0, 10, 1)),
    ("0.9.0rc2", (0, 9, 0)),
    ("0.21", (0, 21, 0)),
    ("0.11.0+cu128", (0, 11, 0)),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["latest", "nightly", "0", "0.x.1", "", 0.1, None])
def test_parse_version_rejects_garbage_naming_the_variable(text):
    with pytest.raises(ValueError, match="vllm_version"):
        parse_version(text)


@pytest.mark.parametrize("version", ["0.9.2", "0.10.0", "v0.10.0.post2"])
def test_before_0_10_1_uses_task_embed(version):
    args = render_args({"model": "m"}, version)
    assert flag(args, "--task") == "embed"
    assert "--runner" not in args and "--pooler-config.task" not in args


@pytest.mark.parametrize("version", ["0.10.1", "0.10.1.post1", "0.12.0", "0.13.0", "0.20.2"])
def test_from_0_10_1_uses_runner_pooling_and_never_task(version):
    args = render_args({"model": "m"}, version)
    assert flag(args, "--runner") == "pooling"
    assert "--task" not in args and "--pooler-config.task" not in args
    assert "--convert" not in args


@pytest.mark.parametrize("version", ["0.21.0", "0.32.0"])
def test_from_0_21_chooses_the_pooler_task(version):
    args = render_args({"model": "m"}, version)
    assert flag(args, "--runner") == "pooling"
    assert flag(args, "--pooler-config.task") == "embed"
    assert "--task" not in args


def test_convert_only_when_asked():
    args = render_args({"model": "Qwen/Qwen3-0.6B", "convert": "embed"}, "0.32.0")
    assert args[args.index("--runner"):args.index("--runner") + 6] == [
        "--runner", "pooling", "--convert", "embed", "--pooler-config.task", "embed"]


def test_bge_m3_recipe():
    args = render_args(dict(BGE, model_path_in_container="/models/bge-m3"))
    assert args == [
        "--model", "/models/bge-m3", "--served-model-name", "BAAI/bge-m3", "--host", "0.0.0.0", "--port", "8000",
        "--runner", "pooling", "--pooler-config.task", "embed",
        "--hf-overrides", '{"architectures":["BgeM3EmbeddingModel"]}', "--max-model-len", "8192"]


def test_bge_m3_recipe_found_from_the_local_path_and_overridden_by_explicit_settings():
    args = render_args({"model_path_in_container": "/models/BGE-M3/", "max_model_len": 4096,
                        "hf_overrides": {"architectures": ["XLMRobertaModel"]}, "version": "0.32.0"})
    assert flag(args, "--max-model-len") == "4096"
    assert flag(args, "--hf-overrides") == '{"architectures":["XLMRobertaModel"]}'


def test_empty_values_are_unset_and_known_model_false_drops_the_recipe():
    empty = dict(BGE, hf_overrides={}, ports=[], gpu_ids=[], cpus=[], extra_args=[], extra_env={}, convert="",
                 shm_size="")
    assert render_args(empty) == render_args(BGE)
    assert plan_replicas(empty) == plan_replicas(BGE)
    args = render_args(dict(BGE, known_model=False))
    assert "--hf-overrides" not in args and "--max-model-len" not in args


def test_bge_m3_architecture_override_only_where_the_recipe_applies():
    args = render_args(BGE, "0.12.0")
    assert "--hf-overrides" not in args
    assert flag(args, "--max-model-len") == "8192"


def test_unset_settings_are_omitted_and_vllm_keeps_its_defaults():
    args = render_args({"model": "intfloat/e5-small-v2", "served_model_name": "e5", "version": "0.32.0"})
    assert args == ["--model", "intfloat/e5-small-v2", "--served-model-name", "e5", "--host", "0.0.0.0",
                    "--port", "8000", "--runner", "pooling", "--pooler-config.task", "embed"]


def test_aliases_follow_the_served_name():
    args = render_args({"model": "BAAI/bge-m3", "served_model_name": "bge-m3", "version": "0.32.0",
                        "served_model_aliases": ["text-embedding-3-small", "embed"]})
    at = args.index("--served-model-name")
    assert args[at:at + 4] == ["--served-model-name", "bge-m3", "text-embedding-3-small", "embed"]
    assert args[at + 4].startswith("--")


def test_every_flag_in_a_fixed_order_with_extra_args_last():
    cfg = dict(BGE, dtype="float16", max_num_seqs=64, max_num_batched_tokens="16384", enable_chunked_prefill=False,
               tensor_parallel_size=2, gpu_memory_utilization="0.45", enforce_eager=True, shutdown_timeout=30,
               api_server_count=2, extra_args=["--disable-log-requests", "--seed=1"])
    assert render_args(cfg)[14:] == [
        "--dtype", "float16", "--max-model-len", "8192", "--max-num-seqs", "64",
        "--max-num-batched-tokens", "16384", "--no-enable-chunked-prefill", "--tensor-parallel-size", "2",
        "--gpu-memory-utilization", "0.45", "--enforce-eager", "--shutdown-timeout", "30",
        "--api-server-count", "2", "--disable-log-requests", "--seed=1"]
    assert render_args(cfg) == render_args(dict(cfg))


def test_flags_that_depend_on_the_profile_or_version():
    cfg = {"model": "m", "enable_chunked_prefill": True, "tensor_parallel_size": 1, "api_server_count": 1,
           "shutdown_timeout": 10, "gpu_memory_utilization": 0.5, "enforce_eager": False}
    args = render_args(cfg, "0.17.1")
    assert "--enable-chunked-prefill" in args
    for absent in ("--tensor-parallel-size", "--api-server-count", "--shutdown-timeout", "--enforce-eager"):
        assert absent not in args
    assert flag(render_args(cfg, "0.18.0"), "--shutdown-timeout") == "10"
    cpu = render_args(dict(cfg, profile="cpu", enforce_eager=None), "0.32.0")
    assert "--gpu-memory-utilization" not in cpu and "--enforce-eager" in cpu


def test_never_renders_the_api_key():
    cfg = dict(BGE, api_key_enabled=True, api_key="s3cret")
    args = render_args(cfg)
    assert "--api-key" not in args and "s3cret" not in json.dumps(args)
    replica = plan_replicas(cfg)[0]
    assert replica["api_key_enabled"] is True and "s3cret" not in json.dumps(replica)


def test_render_refuses_impossible_settings():
    with pytest.raises(ValueError, match="vllm_dtype"):
        render_args(dict(BGE, dtype="fp8"))


def test_possible_settings_have_no_errors():
    assert config_errors(dict(BGE, replicas=2, gpu_ids=["0", "1"]), gpu_count=2) == []
    # The key itself stays out of the settings: only a given but empty key is an error.
    assert config_errors(dict(BGE, api_key_enabled=True)) == []
    assert config_errors(dict(BGE, profile="cpu", replicas=2, cpus="0-3", shm_size="1g")) == []


@pytest.mark.parametrize("cfg, gpu_count, variable, words", [
    (dict(BGE, max_num_batched_tokens=4096), None, "vllm_max_num_batched_tokens", "at least 8192"),
    (dict(BGE, max_num_batched_tokens=4096, enable_chunked_prefill=False), None, "vllm_max_model_len", "chunked"),
    (dict(BGE, tensor_parallel_size=2, gpu_ids=["0"]), None, "vllm_tensor_parallel_size", "list more GPUs"),
    (dict(BGE, tensor_parallel_size=4), 2, "vllm_tensor_parallel_size", "at most 2"),
    (dict(BGE, tensor_parallel_size=2, gpu_ids="0,1,2"), None, "vllm_tensor_parallel_size", "does not divide"),
    (dict(BGE, replicas=3, tensor_parallel_size=2, gpu_ids=[0, 1, 2, 3]), None, "vllm_replicas", "lower"),
    (dict(BGE, gpu_ids=[0, 1, 2]), 2, "vllm_gpu_ids", "host has 2"),
    (dict(BGE, replicas=2, gpu_ids=[0, 0]), None, "vllm_gpu_ids", "twice"),
    (dict(BGE), 0, "vllm_profile", "cpu"),
    (dict(BGE, replicas=2), None, "vllm_gpu_memory_utilization", "at most 0.5"),
    (dict(BGE, replicas=2, gpu_ids=[0, 1], ports=[8000, 8000]), None, "vllm_ports", "own port"),
    (dict(BGE, replicas=2, gpu_ids=[0, 1], ports=[8000]), None, "vllm_ports", "one port per replica"),
    (dict(BGE, port=65535, replicas=2, gpu_ids=[0, 1]), None, "vllm_port", "65535"),
    (dict(BGE, port=0), None, "vllm_port", "at least 1"),
    (dict(BGE, dtype="fp8"), None, "vllm_dtype", "bfloat16"),
    (dict(BGE, gpu_memory_utilization=0), None, "vllm_gpu_memory_utilization", "(0, 1]"),
    (dict(BGE, gpu_memory_utilization=1.2), None, "vllm_gpu_memory_utilization", "(0, 1]"),
    (dict(BGE, max_model_len=0), None, "vllm_max_model_len", "at least 1"),
    (dict(BGE, max_model_len="long"), None, "vllm_max_model_len", "integer"),
    (dict(BGE, replicas=0), None, "vllm_replicas", "at least 1"),
    (dict(BGE, profile="cpu", replicas=3, cpus=[0, 1]), None, "vllm_cpus", "fewer than vllm_replicas"),
    (dict(BGE, profile="cpu", replicas=2), None, "vllm_cpus", "pinned"),
    (dict(BGE, profile="cpu", shm_size="64m"), None, "vllm_shm_size", "512m"),
    (dict(BGE, profile="cpu", cpus="3-1"), None, "vllm_cpus", "cpuset"),
    (dict(BGE, profile="tpu"), None, "vllm_profile", "cpu, gpu"),
    (dict(BGE, served_model_name="bge m3"), None, "vllm_served_model_name", "whitespace"),
    (dict(BGE, served_model_aliases=["text embedding"]), None, "vllm_served_model_aliases", "whitespace"),
    (dict(BGE, served_model_name="bge-m3", served_model_aliases=["bge-m3"]), None, "vllm_served_model_aliases",
     "twice"),
    (dict(BGE, served_model_aliases="text-embedding-3-small"), None, "vllm_served_model_aliases", "list of names"),
    (dict(BGE, hf_overrides='{"architectures": ["X"]}'), None, "vllm_hf_overrides", "dict"),
    (dict(BGE, extra_args=["--port", "9000"]), None, "vllm_extra_args", "vllm_port"),
    (dict(BGE, extra_args=["--host=127.0.0.1"]), None, "vllm_extra_args", "vllm_bind_address"),
    (dict(BGE, extra_args=["--api-key", "k"]), None, "vllm_extra_args", "vllm_api_key"),
    (dict(BGE, extra_args=["--model", "x"]), None, "vllm_extra_args", "vllm_model"),
    (dict(BGE, extra_args="--seed 1"), None, "vllm_extra_args", "list"),
    (dict(BGE, api_key_enabled=True, api_key=" "), None, "vllm_api_key", "empty"),
    (dict(BGE, api_key_enabled=True, api_key=None), None, "vllm_api_key", "empty"),
    (dict(BGE, version="latest"), None, "vllm_version", "release"),
    (dict(BGE, version=None), None, "vllm_version", "required"),
    (dict(BGE, version="0.9.2", convert="embed"), None, "vllm_convert", "0.10.1"),
    (dict(BGE, known_model="bge-m4"), None, "vllm_known_model", "bge-m3"),
    (dict(BGE, bind_address="myhost"), None, "vllm_bind_address", "IP address"),
    (dict(BGE, max_model_length=8192), None, "vllm_max_model_length", "unknown"),
    ({"version": "0.32.0"}, None, "vllm_model", "vllm_model_path_in_container"),
])
def test_each_impossible_setting_names_its_variable(cfg, gpu_count, variable, words):
    errors = config_errors(cfg, gpu_count=gpu_count)
    assert len(errors) == 1, errors
    assert variable in errors[0] and words in errors[0]


def test_all_errors_are_reported_at_once():
    errors = config_errors({"model": "m", "version": "x", "dtype": "fp8", "replicas": 0})
    assert [e.split()[0] for e in errors] == ["vllm_replicas", "vllm_version", "vllm_dtype"]
    assert config_errors("bge-m3") and "dict" in config_errors("bge-m3")[0]


def test_gpu_replicas_are_pinned_to_their_groups():
    cfg = dict(BGE, replicas=2, tensor_parallel_size=2, gpu_ids=[0, 1, 2, 3], ipc_host=True, port=9000,
               container_prefix="embed", bind_address="10.0.0.5", gpu_memory_utilization=0.8)
    first, second = plan_replicas(cfg)
    assert [r["name"] for r in (first, second)] == ["embed-0", "embed-1"]
    assert first["device_requests"] == [{"driver": "nvidia", "device_ids": ["0", "1"], "capabilities": [["gpu"]]}]
    assert second["device_requests"][0]["device_ids"] == ["2", "3"]
    assert (second["index"], second["port"], second["published_ports"]) == (1, 9001, ["10.0.0.5:9001:8000"])
    assert second["url"] == "http://10.0.0.5:9001/v1"
    assert (second["container_address"], second["published_address"]) == ("embed-1:8000", "10.0.0.5:9001")
    assert first["ipc_mode"] == "host" and first["shm_size"] is None and first["cpuset_cpus"] is None
    assert flag(first["command"], "--port") == "8000" and first["command"] == second["command"]
    assert flag(first["command"], "--tensor-parallel-size") == "2"
    assert first["env"] == {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


def test_tensor_parallel_without_ipc_host_gets_a_large_shm():
    (replica,) = plan_replicas(dict(BGE, tensor_parallel_size=2))
    assert replica["ipc_mode"] is None and replica["shm_size"] == "8g"
    assert replica["device_requests"] == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
    (single,) = plan_replicas(BGE)
    assert single["shm_size"] is None and single["ipc_mode"] is None


def test_explicit_ports_advertise_host_and_ipv6():
    replicas = plan_replicas(dict(BGE, replicas=2, gpu_ids="0,1", ports=["8100", 8205], bind_address="::",
                                  advertise_host="embed.example.org"))
    assert [r["published_ports"] for r in replicas] == [["[::]:8100:8000"], ["[::]:8205:8000"]]
    assert [r["url"] for r in replicas] == ["http://embed.example.org:8100/v1", "http://embed.example.org:8205/v1"]


def test_cpu_replicas_split_the_cpus_and_bind_their_threads():
    cfg = dict(BGE, profile="cpu", replicas=2, cpus=[0, 1], cpu_kvcache_space_gib=4, model_path_in_container="/m")
    first, second = plan_replicas(cfg)
    assert (first["cpuset_cpus"], second["cpuset_cpus"]) == ("0", "1")
    assert first["env"] == {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1",
                            "TRANSFORMERS_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "4",
                            "VLLM_CPU_OMP_THREADS_BIND": "0"}
    assert second["env"]["VLLM_CPU_OMP_THREADS_BIND"] == "1"
    assert first["shm_size"] == "512m" and first["device_requests"] is None and first["ipc_mode"] is None
    assert "--enforce-eager" in first["command"] and "--gpu-memory-utilization" not in first["command"]


def test_cpu_split_uneven_ranges_and_tensor_parallel_ranks():
    (one,) = plan_replicas(dict(BGE, profile="cpu", cpus=[0, 1]))
    assert one["cpuset_cpus"] == "0-1" and one["env"]["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"
    uneven = plan_replicas(dict(BGE, profile="cpu", replicas=2, cpus="0-2,8-9"))
    assert [r["cpuset_cpus"] for r in uneven] == ["0-2", "8-9"]
    (tp,) = plan_replicas(dict(BGE, profile="cpu", cpus=["0-7"], tensor_parallel_size=2, shm_size="2g"))
    assert tp["env"]["VLLM_CPU_OMP_THREADS_BIND"] == "0-3|4-7" and tp["shm_size"] == "2g"
    (unbound,) = plan_replicas(dict(BGE, profile="cpu", cpus=[2, 3], cpu_threads_bind="false"))
    assert unbound["cpuset_cpus"] == "2-3" and "VLLM_CPU_OMP_THREADS_BIND" not in unbound["env"]


def test_environment_for_tokens_long_contexts_and_user_variables():
    (replica,) = plan_replicas(dict(BGE, hf_token_file_in_container="/run/secrets/hf_token",
                                    allow_long_max_model_len=True, extra_env={"DO_NOT_TRACK": "0", "TZ": "UTC"}))
    env = replica["env"]
    assert env["HF_TOKEN_PATH"] == "/run/secrets/hf_token" and env["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] == "1"
    assert env["DO_NOT_TRACK"] == "0" and list(env)[-1] == "TZ"
    assert "HF_HUB_OFFLINE" not in env
    (offline,) = plan_replicas(dict(BGE, model_is_local=True))
    assert offline["env"]["HF_HUB_OFFLINE"] == "1" and offline["env"]["TRANSFORMERS_OFFLINE"] == "1"
