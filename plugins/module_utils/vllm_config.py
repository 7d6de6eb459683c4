# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM's command line and container spec across vLLM versions: the one place that knows the flags.

Pure Python (stdlib only); plugins/filter/vllm.py exposes it to the role as filters.

The settings ``cfg`` are a dict keyed by the role's variable names without the ``vllm_`` prefix.
Every key is optional; None, "" or an empty list or dict means unset (the default below, or vLLM's own
default: no flag).
Unknown keys are reported by config_errors, so a misspelt variable does not pass silently.

  key                         default                  meaning
  version                     required                 vLLM release in the image, a string: "0.11.2", "v0.10.1.post1"
  profile                     "gpu"                    "gpu" or "cpu"
  model                       None                     Hugging Face id ("BAAI/bge-m3"): --model when no local path,
                                                       recipe lookup, default served name
  model_path_in_container     None                     path of a mounted model; wins over model for --model
  model_is_local              model_path_in_container  HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1
                              is set
  known_model                 from model / path        RECIPES key (a KNOWN_MODELS entry with a recipe, or an
                                                       alias of one); found from the lower-case last part of
                                                       model, then of model_path_in_container; false: no recipe
  served_model_name           model                    the name clients send as "model"
  served_model_aliases        []                       more names for the same model (an OpenAI model name
                                                       applications already send): --served-model-name lists
                                                       them after served_model_name
  hf_overrides                recipe                   dict, rendered as compact JSON
  convert                     None                     --convert value ("embed") for a generative checkpoint
  dtype                       None                     one of DTYPES
  max_model_len               recipe                   context length in tokens
  max_num_seqs                None
  max_num_batched_tokens      None
  enable_chunked_prefill      None                     True/False: --enable-chunked-prefill/--no-enable-chunked-prefill
  tensor_parallel_size        1
  gpu_ids                     None                     GPU ids (list, or "0,1") to pin: replica i gets the i-th group of
                                                       tensor_parallel_size ids; unset: every replica sees all GPUs
  gpu_memory_utilization      None (vLLM: 0.9)         fraction of each GPU a replica reserves, in (0, 1]
  ipc_host                    False                    ipc_mode "host" when tensor_parallel_size > 1
  shm_size                    cpu "512m"; gpu "8g"     docker /dev/shm size; the gpu default only applies when
                              when tp > 1              tensor_parallel_size > 1 without ipc_host
  cpus                        None                     CPU ids ([0, 1], ["0-7"] or "0-7,16-23") split between replicas
  cpu_sets                    None                     one cpuset per replica (["0-27,56-83", "28-55,84-111"]): exact
                                                       placement, for example one replica per NUMA node; instead of cpus
  cpu_threads_bind            True when pinned         export VLLM_CPU_OMP_THREADS_BIND with each replica's CPUs (every
                                                       CPU of its set); false: vLLM binds one thread per physical core
                                                       of the container's cpuset itself ("auto")
  cpu_reserved                None (vLLM: 1)           VLLM_CPU_NUM_OF_RESERVED_CPU: cores of a replica kept free of
                                                       compute threads for the API server (auto binding only)
  cpu_omp_wait_policy         None                     OMP_WAIT_POLICY: PASSIVE puts idle compute threads to sleep
                                                       at once instead of spinning on cores the API server needs
  cpu_kvcache_space_gib       1 on cpu                 VLLM_CPU_KVCACHE_SPACE in GiB; vLLM's own default (unset)
                                                       reserves 90 % of the node's memory, so it is always set
  enforce_eager               True on cpu              --enforce-eager
  shutdown_timeout            None                     seconds to drain on stop; rendered for vLLM >= 0.18.0 only
  api_server_count            None                     rendered when > 1; only `vllm serve` starts several API
                                                       servers, `python -m vllm.entrypoints.openai.api_server` one
  allow_long_max_model_len    False                    VLLM_ALLOW_LONG_MAX_MODEL_LEN=1
  hf_token_file_in_container  None                     HF_TOKEN_PATH
  api_key_enabled             False                    auth on: the role hands the key over as a file, never as a flag
  api_key                     absent                   when given, checked for emptiness; never rendered
  extra_args                  []                       appended verbatim
  extra_env                   {}                       merged last into the environment
  replicas                    1
  port                        8000                     host port of replica 0; replica i gets port + i
  ports                       None                     explicit host ports, one per replica
  bind_address                "0.0.0.0"                host address the ports are published on (an IP address)
  advertise_host              bind_address, or         host name in the replicas' URLs
                              127.0.0.1 for a wildcard
  container_prefix            "vllm"                   containers are named <prefix>-<index>
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from ansible_collections.embedops.embeddings.plugins.module_utils.replica_plan import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    cpu_ids,
    cpu_shares,
    cpuset_text,
    gpu_device_requests,
    gpu_ids,
    host_ports,
    replica_endpoints,
    split_evenly,
    unset,
)

# Inside its container every replica listens on all interfaces of this port; only the published host port
# (on vllm_bind_address) reaches it.
CONTAINER_HOST = "0.0.0.0"  # noqa: S104
CONTAINER_PORT = 8000

# vllm#21470 replaced `--task embed` with `--runner pooling` (+ `--convert`), first released in 0.10.1;
# vllm#30397 removed --task, so from 0.13 `--task embed` stops the server from starting.
RUNNER_SINCE = (0, 10, 1)
# vllm#37956: a pooling model serves one task, chosen with --pooler-config.task, from 0.21.
POOLER_TASK_SINCE = (0, 21, 0)
# vllm#34730 added --shutdown-timeout (drain in-flight requests on SIGTERM), released in 0.18.0.
SHUTDOWN_TIMEOUT_SINCE = (0, 18, 0)

PROFILES = ("cpu", "gpu")
OMP_WAIT_POLICIES = ("ACTIVE", "PASSIVE")
DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
VLLM_DEFAULT_GPU_MEMORY_UTILIZATION = 0.9
# vLLM on CPU reserves 160 + 240 MiB of /dev/shm; Docker's 64 MiB default kills the engine.
CPU_MIN_SHM_SIZE = "512m"
# Unset, vLLM's CPU backend reserves --gpu-memory-utilization (0.9) of the node's memory; an embedding model needs
# a small pool (encoders keep no KV cache between steps).
CPU_DEFAULT_KVCACHE_GIB = 1
# Flags the role sets itself, and the variable to use instead.
OWNED_FLAGS = {
    "--model": "vllm_model or vllm_model_path_in_container",
    "--host": "vllm_bind_address",
    "--port": "vllm_port or vllm_ports",
    "--api-key": "vllm_api_key (the role hands the key over as a file: a flag is visible in ps and docker inspect)",
}

# The settings once read (_normalise): every key of DEFAULTS.
Settings = dict[str, Any]

# Known embedding models, keyed by the lower-case last part of the model id: the one table of the collection
# (vllm_tuning sizes models from it). params: parameter count; hidden: hidden size; context: the model's maximum
# input in tokens; kv_bytes_per_token_fp16 for decoders: 2 x layers x kv_heads x head_dim x 2.
# recipe: the settings the vllm role applies for the model (explicit settings win over it).
KNOWN_MODELS: dict[str, dict[str, Any]] = {
    # XLM-RoBERTa-large: 24 layers, 1024 wide; ~1.1 GB of weights in fp16.
    # BAAI/bge-m3: 8192-token context, 1024-dim dense vectors. config.json declares XLMRobertaModel;
    # BgeM3EmbeddingModel (vllm#14526) also loads its sparse and ColBERT heads. The override is the
    # documented recipe together with --pooler-config.task embed, so it is applied from that release on;
    # older releases serve the dense vectors as XLMRobertaModel, and some lack the architecture entirely.
    "bge-m3": {
        "params": 567754752, "hidden": 1024, "context": 8192,
        "recipe": {
            "max_model_len": 8192,
            "hf_overrides": {"architectures": ["BgeM3EmbeddingModel"]},
            "hf_overrides_since": POOLER_TASK_SINCE,
        },
    },
    # MiniLM: 6 layers, 384 wide; BERT position table of 512.
    "all-minilm-l6-v2": {"params": 22713216, "hidden": 384, "context": 512},
    # nomic-bert: 12 layers, 768 wide, rotary positions trained to 8192.
    "nomic-embed-text-v1.5": {"params": 136731648, "hidden": 768, "context": 8192},
    # BERT-large: 24 layers, 1024 wide.
    "bge-large-en-v1.5": {"params": 335141888, "hidden": 1024, "context": 512},
    # Mistral-7B: 32 layers, 4096 wide, 8 KV heads of 128 (grouped-query attention).
    "e5-mistral-7b-instruct": {"params": 7110660096, "hidden": 4096, "context": 32768,
                               "kv_bytes_per_token_fp16": 2 * 32 * 8 * 128 * 2},
}
# Other names of the same models (Ollama's library names among them).
ALIASES = {
    "all-minilm": "all-minilm-l6-v2",
    "nomic-embed-text": "nomic-embed-text-v1.5",
    "nomic-embed-text-v1": "nomic-embed-text-v1.5",
    "e5-mistral-7b": "e5-mistral-7b-instruct",
}
# The models the vllm role has a recipe for.
RECIPES = {key: model["recipe"] for key, model in KNOWN_MODELS.items() if "recipe" in model}


def known_model(name: Any) -> str | None:
    """The KNOWN_MODELS key for a model id, path or alias, or None."""
    key = str(name or "").rstrip("/").rsplit("/", 1)[-1].lower()
    key = ALIASES.get(key, key)
    return key if key in KNOWN_MODELS else None


DEFAULTS: Settings = {
    "version": None, "profile": "gpu", "model": None, "model_path_in_container": None, "model_is_local": None,
    "known_model": None, "served_model_name": None, "served_model_aliases": None, "hf_overrides": None,
    "convert": None, "dtype": None,
    "max_model_len": None, "max_num_seqs": None, "max_num_batched_tokens": None, "enable_chunked_prefill": None,
    "tensor_parallel_size": 1, "gpu_ids": None, "gpu_memory_utilization": None, "ipc_host": False,
    "shm_size": None, "cpus": None, "cpu_sets": None, "cpu_threads_bind": None, "cpu_reserved": None,
    "cpu_omp_wait_policy": None, "cpu_kvcache_space_gib": None,
    "enforce_eager": None, "shutdown_timeout": None, "api_server_count": None,
    "allow_long_max_model_len": False, "hf_token_file_in_container": None, "api_key_enabled": False,
    "api_key": None, "extra_args": (), "extra_env": {}, "replicas": 1, "port": 8000, "ports": None,
    "bind_address": "0.0.0.0", "advertise_host": None, "container_prefix": "vllm",  # noqa: S104
}
# Integer settings and the least value each accepts.
MINIMUMS = {
    "replicas": 1, "port": 1, "tensor_parallel_size": 1, "max_model_len": 1, "max_num_seqs": 1,
    "max_num_batched_tokens": 1, "api_server_count": 1, "shutdown_timeout": 0, "cpu_kvcache_space_gib": 0,
    "cpu_reserved": 0,
}
BOOLEANS = ("model_is_local", "enable_chunked_prefill", "ipc_host", "cpu_threads_bind", "enforce_eager",
            "allow_long_max_model_len", "api_key_enabled")

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.-]?(?:a|b|rc|post|dev)\d*)*(?:\+[\w.]+)?$", re.IGNORECASE)
_SIZE = re.compile(r"^(\d+)\s*([bkmgtp]?)b?$", re.IGNORECASE)


def parse_version(text: Any) -> tuple[int, ...]:
    """(major, minor, patch) of a vLLM release; a pre- or post-release counts as the release itself."""
    if not isinstance(text, str):
        raise ValueError("vllm_version must be a quoted string such as \"0.10.1\", not %r: YAML reads 0.10 as "
                         "the number 0.1" % (text,))
    match = _VERSION.match(text.strip())
    if not match:
        raise ValueError("vllm_version %r is not a vLLM release number such as \"0.11.2\", \"v0.10.1\" or "
                         "\"0.10.1.post1\": set it to the release in the image" % text)
    return tuple(int(part or 0) for part in match.groups())


def config_errors(cfg: Any, gpu_count: int | None = None) -> list[str]:
    """Every impossible setting in cfg, each naming its variable and the fix. gpu_count: GPUs on the host."""
    return _check(cfg, gpu_count)[1]


def render_args(cfg: Mapping[str, Any], version: Any = None) -> list[str]:
    """The server's argv after the program, for `version` (default: cfg's version)."""
    return _render(_valid(cfg if version is None else dict(cfg, version=version)))


def plan_replicas(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One community.docker.docker_container spec per replica."""
    s = _valid(cfg)
    count, tp, gpu = s["replicas"], s["tensor_parallel_size"], s["profile"] == "gpu"
    command = _render(s)
    ipc_mode = "host" if tp > 1 and s["ipc_host"] else None
    shm_size = s["shm_size"] or (None if ipc_mode else CPU_MIN_SHM_SIZE if not gpu else "8g" if tp > 1 else None)
    shares: list[Any] = [None] * count if gpu else cpu_shares(s["cpus"], s["cpu_sets"], count)
    endpoints = replica_endpoints(s["container_prefix"], host_ports(s["port"], s["ports"], count),
                                  s["bind_address"], s["advertise_host"], CONTAINER_PORT)
    replicas: list[dict[str, Any]] = []
    for i, endpoint in enumerate(endpoints):
        env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
        if s["model_is_local"]:
            env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        if s["allow_long_max_model_len"]:
            env["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] = "1"
        if s["hf_token_file_in_container"]:
            env["HF_TOKEN_PATH"] = str(s["hf_token_file_in_container"])
        if not gpu:
            kv_gib = s["cpu_kvcache_space_gib"]
            env["VLLM_CPU_KVCACHE_SPACE"] = str(CPU_DEFAULT_KVCACHE_GIB if kv_gib is None else kv_gib)
        if shares[i] and s["cpu_threads_bind"] is not False:
            # One CPU range per tensor-parallel rank, separated by "|".
            env["VLLM_CPU_OMP_THREADS_BIND"] = "|".join(
                cpuset_text(part) for part in split_evenly(shares[i], tp))
        if not gpu and s["cpu_reserved"] is not None:
            env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(s["cpu_reserved"])
        if not gpu and s["cpu_omp_wait_policy"]:
            env["OMP_WAIT_POLICY"] = s["cpu_omp_wait_policy"]
        env.update((str(k), str(v)) for k, v in s["extra_env"].items())
        replicas.append(dict(
            endpoint,
            command=list(command),
            env=env,
            device_requests=gpu_device_requests(s["gpu_ids"], tp, i) if gpu else None,
            ipc_mode=ipc_mode,
            shm_size=shm_size,
            cpuset_cpus=cpuset_text(shares[i]) if shares[i] else None,
            api_key_enabled=s["api_key_enabled"],
        ))
    return replicas


def _render(s: Settings) -> list[str]:
    version = s["version"]
    args = ["--model", str(s["model_path_in_container"] or s["model"])]
    if s["served_model_name"]:
        args += ["--served-model-name", s["served_model_name"]] + list(s["served_model_aliases"] or [])
    args += ["--host", CONTAINER_HOST, "--port", str(CONTAINER_PORT)]
    if version < RUNNER_SINCE:
        args += ["--task", "embed"]
    else:
        args += ["--runner", "pooling"]
        if s["convert"]:
            args += ["--convert", str(s["convert"])]
        if version >= POOLER_TASK_SINCE:
            args += ["--pooler-config.task", "embed"]
    if s["hf_overrides"]:
        args += ["--hf-overrides", json.dumps(s["hf_overrides"], separators=(",", ":"))]
    for key in ("dtype", "max_model_len", "max_num_seqs", "max_num_batched_tokens"):
        if s[key] is not None:
            args += ["--" + key.replace("_", "-"), str(s[key])]
    if s["enable_chunked_prefill"] is not None:
        args.append("--enable-chunked-prefill" if s["enable_chunked_prefill"] else "--no-enable-chunked-prefill")
    if s["tensor_parallel_size"] > 1:
        args += ["--tensor-parallel-size", str(s["tensor_parallel_size"])]
    if s["profile"] == "gpu" and s["gpu_memory_utilization"] is not None:
        args += ["--gpu-memory-utilization", str(s["gpu_memory_utilization"])]
    if s["enforce_eager"]:
        args.append("--enforce-eager")
    if s["shutdown_timeout"] is not None and version >= SHUTDOWN_TIMEOUT_SINCE:
        args += ["--shutdown-timeout", str(s["shutdown_timeout"])]
    if (s["api_server_count"] or 1) > 1:
        args += ["--api-server-count", str(s["api_server_count"])]
    return args + [str(arg) for arg in s["extra_args"]]


def _valid(cfg: Any) -> Settings:
    s, errors = _check(cfg)
    if errors or s is None:  # s is None only with errors
        raise ValueError("invalid vLLM settings:\n- " + "\n- ".join(errors))
    return s


def _check(cfg: Any, gpu_count: int | None = None) -> tuple[Settings | None, list[str]]:
    """(normalised settings, errors). A setting that cannot be read is reported and then treated as unset."""
    if not isinstance(cfg, Mapping):
        return None, ["the vLLM settings must be a dict of vllm_* values without the prefix, not %r" % (cfg,)]
    s, errors = _normalise(cfg)
    count, tp, gpu = s["replicas"], s["tensor_parallel_size"], s["profile"] == "gpu"

    if not (s["model"] or s["model_path_in_container"]):
        errors.append("set vllm_model (a Hugging Face id) or vllm_model_path_in_container (a mounted model)")
    name = s["served_model_name"]
    if name is not None and (not isinstance(name, str) or re.search(r"\s", name)):
        errors.append("vllm_served_model_name %r must be one word without whitespace: clients send it as "
                      "\"model\"" % (name,))
    aliases = s["served_model_aliases"] or []
    bad = [alias for alias in aliases if not isinstance(alias, str) or not alias or re.search(r"\s", alias)]
    if bad:
        errors.append("vllm_served_model_aliases %r: each alias must be one word without whitespace, as clients send "
                      "it as \"model\"" % (bad,))
    elif len(set(aliases + [name])) != len(aliases) + 1:
        errors.append("vllm_served_model_aliases %r names a model twice (or vllm_served_model_name %r again)"
                      % (aliases, name))
    if s["dtype"] is not None and s["dtype"] not in DTYPES:
        errors.append("vllm_dtype %r is not one of %s" % (s["dtype"], ", ".join(DTYPES)))
    util = s["gpu_memory_utilization"]
    if util is not None and not 0 < util <= 1:
        errors.append("vllm_gpu_memory_utilization %s must be a fraction in (0, 1], e.g. 0.9" % util)
    if s["convert"] and s["version"] and s["version"] < RUNNER_SINCE:
        errors.append("vllm_convert needs vLLM >= %s (--runner/--convert, vllm#21470); vllm_version is %s: upgrade "
                      "the image or unset vllm_convert" % (_dotted(RUNNER_SINCE), _dotted(s["version"])))
    batched, length = s["max_num_batched_tokens"], s["max_model_len"]
    if batched is not None and length is not None and batched < length and s["enable_chunked_prefill"] is not True:
        # Both are ints here (_normalise converted them); pylint infers None from DEFAULTS.
        # pylint: disable-next=bad-string-format-type
        errors.append("vllm_max_num_batched_tokens (%d) is below vllm_max_model_len (%d): without chunked prefill "
                      "(off for most encoder embedding models and non-x86 CPUs) vLLM refuses to start. Raise "
                      "vllm_max_num_batched_tokens to at least %d, lower vllm_max_model_len, or set "
                      "vllm_enable_chunked_prefill: true if the model supports it" % (batched, length, length))

    if s["ports"] is not None and count is not None and len(s["ports"]) != count:
        errors.append("vllm_ports lists %d ports for %d replicas (vllm_replicas): give one port per replica"
                      % (len(s["ports"]), count))
    ports = s["ports"] or ([s["port"] + i for i in range(count)] if s["port"] and count else [])
    for port in sorted(set(ports)):
        if ports.count(port) > 1:
            errors.append("vllm_ports gives port %d to %d replicas: each replica needs its own port"
                          % (port, ports.count(port)))
        if not 1 <= port <= 65535:
            errors.append("port %d is outside 1..65535: lower vllm_port or fix vllm_ports" % port)

    if gpu and tp:
        errors += _gpu_errors(s, count, tp, gpu_count)
    if not gpu and count and tp:
        errors += _cpu_errors(s, count, tp)

    for arg in s["extra_args"]:
        flag = arg.split("=", 1)[0]
        if flag in OWNED_FLAGS:
            errors.append("vllm_extra_args must not set %s, the role sets it: use %s instead"
                          % (flag, OWNED_FLAGS[flag]))
    if s["api_key_enabled"] and "api_key" in cfg and not str(s["api_key"] or "").strip():
        errors.append("vllm_api_key_enabled is true but vllm_api_key is empty: set vllm_api_key (from a vault) or "
                      "set vllm_api_key_enabled: false")
    return s, errors


def _gpu_errors(s: Settings, count: int | None, tp: int, gpu_count: int | None) -> list[str]:
    errors: list[str] = []
    ids = s["gpu_ids"]
    if gpu_count == 0:
        errors.append("the host has no GPU: set vllm_profile: cpu, or install the GPU and its driver")
    if ids:
        if len(set(ids)) != len(ids):
            errors.append("vllm_gpu_ids %s lists a GPU twice: each GPU serves one replica" % ids)
        if gpu_count and len(ids) > gpu_count:
            errors.append("vllm_gpu_ids lists %d GPUs but the host has %d" % (len(ids), gpu_count))
        if tp > len(ids):
            errors.append("vllm_tensor_parallel_size %d needs %d GPUs per replica but vllm_gpu_ids lists %d: list "
                          "more GPUs or lower vllm_tensor_parallel_size" % (tp, tp, len(ids)))
        elif len(ids) % tp:
            errors.append("vllm_tensor_parallel_size %d does not divide the %d GPUs in vllm_gpu_ids: list a "
                          "multiple of %d GPUs" % (tp, len(ids), tp))
        elif count and count > len(ids) // tp:
            errors.append("vllm_replicas %d needs %d groups of vllm_tensor_parallel_size %d GPUs but vllm_gpu_ids "
                          "makes %d: list more GPUs or lower vllm_replicas" % (count, count, tp, len(ids) // tp))
        return errors
    if gpu_count and tp > gpu_count:
        errors.append("vllm_tensor_parallel_size %d is more than the %d GPUs on the host: lower it to at most %d"
                      % (tp, gpu_count, gpu_count))
    util = s["gpu_memory_utilization"] or VLLM_DEFAULT_GPU_MEMORY_UTILIZATION
    if count and count > 1 and count * util > 1:
        errors.append("vllm_replicas %d share the same GPUs (no vllm_gpu_ids) and each reserves "
                      "vllm_gpu_memory_utilization %s of them: pin the replicas with vllm_gpu_ids, or set "
                      "vllm_gpu_memory_utilization to at most %s" % (count, util, int(100 / count) / 100.0))
    return errors


def _cpu_errors(s: Settings, count: int, tp: int) -> list[str]:
    errors: list[str] = []
    if s["cpu_sets"]:
        if s["cpus"]:
            errors.append("vllm_cpus and vllm_cpu_sets are both set: list the CPUs to share out in vllm_cpus, or give "
                          "each replica its own set in vllm_cpu_sets, not both")
        if len(s["cpu_sets"]) != count:
            errors.append("vllm_cpu_sets lists %d sets for %d replicas (vllm_replicas): give one set per replica"
                          % (len(s["cpu_sets"]), count))
        seen: dict[int, int] = {}
        for i, ids in enumerate(s["cpu_sets"]):
            for cpu in ids:
                if cpu in seen and seen[cpu] != i:
                    errors.append("vllm_cpu_sets gives CPU %d to replicas %d and %d: replicas that share a core stall "
                                  "each other; give each its own CPUs" % (cpu, seen[cpu], i))
                    return errors
                seen[cpu] = i
            if len(ids) < tp:
                errors.append("vllm_cpu_sets gives replica %d %d CPUs, fewer than vllm_tensor_parallel_size (%d)"
                              % (i, len(ids), tp))
        return errors
    if s["cpus"] and len(s["cpus"]) < count * tp:
        errors.append("vllm_cpus has %d CPUs, fewer than vllm_replicas (%d) x vllm_tensor_parallel_size (%d): "
                      "list more CPUs or lower vllm_replicas" % (len(s["cpus"]), count, tp))
    if not s["cpus"] and count > 1:
        errors.append("vllm_replicas %d on the cpu profile must be pinned: list the CPUs to share out in vllm_cpus"
                      % count)
    if s["shm_size"] and _size_bytes(s["shm_size"]) < _size_bytes(CPU_MIN_SHM_SIZE):
        errors.append("vllm_shm_size %s is too small on the cpu profile: vLLM reserves 400 MiB of /dev/shm; "
                      "use at least %s" % (s["shm_size"], CPU_MIN_SHM_SIZE))
    return errors


def _normalise(cfg: Mapping[Any, Any]) -> tuple[Settings, list[str]]:
    errors: list[str] = []
    unknown = sorted(str(key) for key in cfg if key not in DEFAULTS)
    if unknown:
        errors.append("unknown settings %s: check the variable names" % ", ".join("vllm_" + k for k in unknown))
    s = dict(DEFAULTS)
    s.update((k, v) for k, v in cfg.items() if k in DEFAULTS and not unset(v))

    def read(key: str, convert: Callable[[Any], Any], expected: str) -> None:
        try:
            s[key] = convert(s[key])
        except (TypeError, ValueError):
            errors.append("vllm_%s must be %s, not %r" % (key, expected, s[key]))
            s[key] = None if DEFAULTS[key] is None else convert(DEFAULTS[key])

    for key in MINIMUMS:
        if s[key] is not None:
            read(key, as_int, "an integer")
        if s[key] is not None and s[key] < MINIMUMS[key]:
            errors.append("vllm_%s must be at least %d, not %d" % (key, MINIMUMS[key], s[key]))
            s[key] = None
    for key in BOOLEANS:
        if s[key] is not None:
            read(key, as_bool, "true or false")
    if s["gpu_memory_utilization"] is not None:
        read("gpu_memory_utilization", as_float, "a number")
    if s["shm_size"] is not None:
        read("shm_size", _as_size, "a size such as \"512m\" or \"8g\"")
    if s["ports"] is not None:
        read("ports", lambda v: [as_int(p) for p in as_list(v)], "a list of port numbers")
    if s["gpu_ids"] is not None:
        read("gpu_ids", gpu_ids, "a list of GPU ids")
    if s["cpus"] is not None:
        read("cpus", cpu_ids, "a list of CPU ids such as [0, 1] or a cpuset such as \"0-7,16-23\"")
    if s["cpu_sets"] is not None:
        read("cpu_sets", lambda v: [cpu_ids(part) for part in as_list(v)],
             "a list with one cpuset per replica, such as [\"0-3\", \"4-7\"]")
    read("extra_args", lambda v: [as_str(a) for a in as_list(v)], "a list of strings")
    if s["served_model_aliases"] is not None:
        read("served_model_aliases", lambda v: [as_str(a) for a in as_list(v)], "a list of names")
    read("extra_env", as_dict, "a dict of variable names to values")
    if s["hf_overrides"] is not None:
        read("hf_overrides", as_dict, "a dict (a YAML mapping, not JSON text)")
    if s["cpu_omp_wait_policy"] is not None:
        s["cpu_omp_wait_policy"] = str(s["cpu_omp_wait_policy"]).upper()
        if s["cpu_omp_wait_policy"] not in OMP_WAIT_POLICIES:
            errors.append("vllm_cpu_omp_wait_policy %r is not one of %s"
                          % (s["cpu_omp_wait_policy"], ", ".join(OMP_WAIT_POLICIES)))
    if s["profile"] not in PROFILES:
        errors.append("vllm_profile %r is not one of %s" % (s["profile"], ", ".join(PROFILES)))
    try:
        bind = str(s["bind_address"])
        ipaddress.ip_address(bind)
        s["bind_address"] = bind
    except ValueError:
        errors.append("vllm_bind_address %r must be an IP address (docker publishes ports on addresses, not "
                      "names), e.g. 0.0.0.0 or 127.0.0.1" % (s["bind_address"],))
        s["bind_address"] = DEFAULTS["bind_address"]
    if s["version"] is None:
        errors.append("vllm_version is required: the vLLM release in the image, e.g. \"0.11.2\"")
    else:
        try:
            s["version"] = parse_version(s["version"])
        except ValueError as exc:
            errors.append(str(exc))
            s["version"] = None

    known = None if s["known_model"] is False else s["known_model"] or _model_key(s)
    recipe = RECIPES.get(known_model(known) or "") if known else None
    if known and recipe is None:
        errors.append("vllm_known_model %r has no recipe; known: %s (unset: looked up from the model, false: none)"
                      % (s["known_model"], ", ".join(sorted(RECIPES))))
    if recipe:
        if s["max_model_len"] is None:
            s["max_model_len"] = recipe["max_model_len"]
        if s["hf_overrides"] is None and s["version"] and s["version"] >= recipe["hf_overrides_since"]:
            s["hf_overrides"] = recipe["hf_overrides"]
    if s["served_model_name"] is None:
        s["served_model_name"] = s["model"]
    if s["model_is_local"] is None:
        s["model_is_local"] = bool(s["model_path_in_container"])
    if s["enforce_eager"] is None:
        s["enforce_eager"] = s["profile"] == "cpu"
    return s, errors


def _model_key(s: Settings) -> str | None:
    """The RECIPES key of the model or its path (aliases included), or None."""
    for name in (s["model"], s["model_path_in_container"]):
        key = known_model(name)
        if key in RECIPES:
            return key
    return None


def _as_size(value: Any) -> str:
    _size_bytes(value)
    return str(value)


def _size_bytes(text: Any) -> int:
    match = _SIZE.match(str(text).strip())
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * 1024 ** "bkmgtp".index(match.group(2).lower() or "b")


def _dotted(version: Iterable[int]) -> str:
    return ".".join(str(part) for part in version)
