"""vllm_tuning on the cpu profile: flags chosen from the cpu_facts samples; explicit settings win."""

import shutil
from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import cpu_info
from ansible_collections.embedops.embeddings.plugins.module_utils.nvidia_smi import parse_query
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import config_errors, plan_replicas
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_tuning import tune

HERE = Path(__file__).resolve().parent
CPU = HERE / "fixtures" / "cpu"
GPU = HERE.parents[1] / "fixtures" / "nvidia_smi"
MINILM = {"model": "sentence-transformers/all-MiniLM-L6-v2", "profile": "cpu", "max_model_len": 512}


def cpu(sample, **kwargs):
    return cpu_info.cpu_facts(str(CPU / sample), **kwargs)


def whole_host(sample, tmp_path):
    """The sample's machine seen from its root cgroup: every CPU usable, no quota."""
    root = tmp_path / sample
    shutil.copytree(CPU / sample, root)
    (root / "proc" / "self" / "cgroup").write_text("0::/\n")
    return cpu_info.cpu_facts(str(root))


def cpu_tune(settings, sample, **kwargs):
    return tune(dict(MINILM, **settings), None, cpu=cpu(sample), **kwargs)


def test_this_build_machine_without_bf16_gets_float32_and_every_core_computing():
    result = cpu_tune({}, "this-build-machine")
    assert result["errors"] == []
    settings = result["settings"]
    assert settings["dtype"] == "float32"  # no avx512_bf16/amx_bf16: 16-bit types run through slow conversions
    assert settings["replicas"] == 1 and settings["cpu_sets"] == ["0-1"]
    assert settings["cpu_threads_bind"] is False and settings["cpu_reserved"] == 0
    assert settings["cpu_omp_wait_policy"] == "PASSIVE"  # idle compute threads must not spin on the front end's cores
    assert settings["cpu_kvcache_space_gib"] == 1 and settings["api_server_count"] == 1
    assert settings["max_num_batched_tokens"] == 2048 and settings["max_num_seqs"] == 128
    assert any(line.startswith("dtype: float32, the CPU has no native bfloat16") for line in result["reasons"])
    assert any(line.startswith("cpu_reserved: 0, long inputs are compute-bound on 2 cores")
               for line in result["reasons"])


def test_short_inputs_keep_a_core_for_the_api_server():
    result = cpu_tune({}, "this-build-machine", typical_input_tokens=8)
    assert result["settings"]["cpu_reserved"] == 1 and result["settings"]["cpu_omp_wait_policy"] == "ACTIVE"
    assert any("short inputs (vllm_typical_input_tokens 8 < 64)" in line for line in result["reasons"])


def test_cascade_lake_has_avx512_but_no_bf16_so_float32_on_the_cpus_its_cgroup_allows():
    facts = cpu("cascade-lake-2s")  # a service cgroup pinned to socket 0
    assert facts["isa"]["avx512f"] and not facts["bf16_native"]
    result = tune(dict(MINILM), None, cpu=facts)
    assert result["errors"] == []
    assert result["settings"]["dtype"] == "float32"
    assert result["settings"]["replicas"] == 1
    assert _ids(result["settings"]["cpu_sets"][0]) == facts["usable_cpus"]  # hyper-thread siblings included


def test_sapphire_rapids_amx_gets_bfloat16_one_replica_per_socket_without_overlap(tmp_path):
    facts = whole_host("sapphire-rapids-2s", tmp_path)
    nodes = [n for n in facts["numa_nodes"] if n["cpus"]]
    assert facts["isa"]["amx_bf16"]
    result = tune(dict(MINILM), None, cpu=facts)
    settings = result["settings"]
    assert result["errors"] == [] and settings["dtype"] == "bfloat16"
    assert settings["replicas"] == len(nodes) == 2
    assert [_ids(cpuset) for cpuset in settings["cpu_sets"]] == [sorted(node["cpus"]) for node in nodes]
    sets = [set(_ids(s)) for s in settings["cpu_sets"]]
    assert not sets[0] & sets[1]
    assert sets[0] | sets[1] == set(facts["usable_cpus"])
    # The plan gives each container its set and lets vLLM bind one thread per physical core in it.
    plan = plan_replicas(dict(MINILM, version="0.32.0", **{k: settings[k] for k in (
        "replicas", "cpu_sets", "cpu_threads_bind", "cpu_reserved", "cpu_omp_wait_policy", "cpu_kvcache_space_gib",
        "dtype")}))
    assert [r["cpuset_cpus"] for r in plan] == settings["cpu_sets"]
    assert all("VLLM_CPU_OMP_THREADS_BIND" not in r["env"] for r in plan)
    assert all(r["env"]["VLLM_CPU_NUM_OF_RESERVED_CPU"] == str(settings["cpu_reserved"]) for r in plan)
    assert all(r["env"]["OMP_WAIT_POLICY"] == settings["cpu_omp_wait_policy"] for r in plan)


def test_genoa_bf16_without_fp16():
    result = tune(dict(MINILM), None, cpu=cpu("epyc-genoa-1s"))
    assert result["settings"]["dtype"] == "bfloat16"
    assert any("avx512_bf16" in line for line in result["reasons"] if line.startswith("dtype"))


def test_graviton3_bf16_on_arm():
    result = tune(dict(MINILM), None, cpu=cpu("graviton3-4vcpu"))
    assert result["errors"] == [] and result["settings"]["dtype"] == "bfloat16"


def test_a_cgroup_quota_keeps_only_the_cores_it_pays_for():
    facts = dict(cpu("this-build-machine"), cgroup_cpu_quota=1.5)
    result = tune(dict(MINILM), None, cpu=facts)
    assert result["settings"]["cpu_sets"] == ["0"]
    assert any("the cgroup allows 1.5 CPUs: 1 of the 2 usable cores" in line for line in result["reasons"])


def test_a_small_vm_with_one_hyperthreaded_core_and_a_quota():
    facts = cpu("vm-2vcpu-quota")
    assert facts["cgroup_cpu_quota"] == pytest.approx(1.5) and facts["physical_cores"] == 1
    result = tune(dict(MINILM), None, cpu=facts)
    assert result["errors"] == []
    assert result["settings"]["cpu_sets"] == ["0-1"] and result["settings"]["cpu_reserved"] == 0


def test_operator_settings_win():
    given = {"dtype": "bfloat16", "replicas": 1, "cpu_sets": ["0"], "cpu_reserved": 1, "cpu_kvcache_space_gib": 4,
             "cpu_threads_bind": True}
    result = cpu_tune(given, "this-build-machine")
    assert result["errors"] == []
    settings = result["settings"]
    assert settings["dtype"] == "bfloat16" and settings["cpu_sets"] == ["0"] and settings["cpu_kvcache_space_gib"] == 4
    assert "dtype" not in result["chosen"] and "cpu_sets" not in result["chosen"]
    assert any(line.startswith("note: vllm_dtype bfloat16 is not native on this CPU") for line in result["reasons"])


def test_vllm_cpus_given_keeps_the_even_split_and_binds_threads_explicitly():
    result = cpu_tune({"replicas": 2, "cpus": [0, 1]}, "this-build-machine")
    assert result["errors"] == []
    assert "cpu_sets" not in result["settings"] and result["settings"]["replicas"] == 2


def test_more_replicas_than_nodes_share_the_cores_in_node_order(tmp_path):
    result = tune(dict(MINILM, replicas=4), None, cpu=whole_host("sapphire-rapids-2s", tmp_path))
    sets = [set(_ids(s)) for s in result["settings"]["cpu_sets"]]
    assert len(sets) == 4 and all(sets) and sum(len(s) for s in sets) == len(set().union(*sets))


def test_a_decoder_needs_its_kv_cache_and_may_not_fit_the_memory():
    settings = {"model": "intfloat/e5-mistral-7b-instruct", "profile": "cpu", "max_model_len": 32768}
    result = tune(settings, None, cpu=cpu("sapphire-rapids-2s"))
    assert result["errors"] == []
    # 128 KiB per token in bfloat16 x 32768 tokens = 4 GiB, doubled
    assert result["settings"]["cpu_kvcache_space_gib"] == 8
    small = dict(cpu("this-build-machine"), memory_total_mib=8192, cgroup_memory_limit_mib=None)
    result = tune(settings, None, cpu=small)
    assert any("does not fit" in e and "vllm_replicas" in e for e in result["errors"])


def test_without_cpu_facts_only_dtype_and_the_batch_floor():
    result = tune(dict(MINILM), None)
    assert result["settings"] == {"dtype": "float32", "max_model_len": 512, "max_num_batched_tokens": 2048}


def test_the_chosen_settings_pass_vllm_config():
    result = cpu_tune({}, "sapphire-rapids-2s")
    cfg = dict(MINILM, version="0.32.0", **{k: v for k, v in result["settings"].items() if k != "max_num_seqs"})
    assert config_errors(cfg) == []


def test_overlapping_cpu_sets_are_refused():
    errors = config_errors(dict(MINILM, version="0.32.0", replicas=2, cpu_sets=["0-3", "3-5"]))
    assert any("vllm_cpu_sets gives CPU 3 to replicas 0 and 1" in e for e in errors)
    errors = config_errors(dict(MINILM, version="0.32.0", replicas=2, cpu_sets=["0-3"]))
    assert any("vllm_cpu_sets lists 1 sets for 2 replicas" in e for e in errors)


def test_gpu_hosts_get_api_servers_from_their_spare_cores():
    gpus = parse_query((GPU / "h100_x8.csv").read_text())[0]
    facts = cpu("sapphire-rapids-2s")  # 8 physical cores in the trimmed sample
    result = tune({"model": "BAAI/bge-m3", "profile": "gpu"}, gpus, cpu=facts, multi_api_server=True)
    assert result["settings"]["api_server_count"] == 1  # 8 cores / 8 replicas - 2 leaves none to spare
    result = tune({"model": "BAAI/bge-m3", "profile": "gpu", "replicas": 1, "gpu_ids": ["0"]}, gpus,
                  cpu=dict(facts, physical_cores=64, cgroup_cpu_quota=None), multi_api_server=True)
    assert result["settings"]["api_server_count"] == 8
    result = tune({"model": "BAAI/bge-m3", "profile": "gpu", "replicas": 1, "gpu_ids": ["0"]}, gpus,
                  cpu=dict(facts, physical_cores=64), multi_api_server=False)
    assert result["settings"]["api_server_count"] == 1


def _ids(cpuset):
    ids = []
    for part in cpuset.split(","):
        low, _dash, high = part.partition("-")
        ids.extend(range(int(low), int(high or low) + 1))
    return ids
