# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine flags for a vLLM embedding server, chosen from the host's GPUs or CPUs and the model's size.

Pure Python (stdlib only); plugins/filter/vllm_tuning.py exposes tune() as the vllm_tune filter.

tune(settings, gpus, cpu=..., ...) reads the same settings dict as vllm_config (role variables without the
``vllm_`` prefix), the GPU list of the gpu_facts module and the CPU facts of the cpu_facts module, and chooses
every TUNED setting the operator left unset (None or ""; for dtype also "auto"). A setting the operator set is
kept as it is, and checked.

The memory estimate, per GPU, in bytes (deliberately simple; every number is printed in the reasons):

  weights      params x bytes per value (4 for float32, 2 for float16/bfloat16) / tensor_parallel_size,
               or the model_weight_bytes override
  activations  batch_tokens x hidden x bytes x ACTIVATION_FACTOR / tensor_parallel_size
               batch_tokens = min(max_num_batched_tokens, max_num_seqs x max_model_len): the most tokens one
               forward pass holds. ACTIVATION_FACTOR (20) counts the hidden-sized values one token keeps alive
               inside ONE layer at its peak (residual in and out, Q, K, V, attention output, the 4x-wide FFN
               before and after its activation, norms and temporaries). Layers run one after another and free
               their activations, so the depth does not multiply it. It assumes attention kernels whose memory
               grows linearly with the sequence (FlashAttention, SDPA), as vLLM uses on CUDA; a kernel that
               materialises the seq x seq scores would need more for long inputs.
  kv cache     decoder models only (e5-mistral): kv_bytes_per_token x max(max_model_len, batch_tokens) /
               tensor_parallel_size; vLLM refuses to start unless one full max_model_len sequence fits.
               Encoder models (BERT, XLM-RoBERTa, nomic-bert) keep no KV cache between steps.
  overhead     OVERHEAD_GIB (1.5) per GPU: CUDA context, cuBLAS workspaces, CUDA graphs.

It must fit in memory_total x gpu_memory_utilization (vLLM reserves that fraction of the whole card up front;
vllm#12308). The estimate is an order of magnitude to choose flags and to stop hopeless configurations before
a host is touched, not a measurement: vLLM's own profiling run at start-up decides, so a configuration close
to the limit may still fail there. Free memory is never used to choose (the host's own running replicas use
it, and a second run would choose differently); it only adds a note.

Choices, in order:
  dtype                   bfloat16 on compute capability >= 8.0 (Ampere and newer), float16 below; the
                          lowest capability of the GPUs used decides. float32 on the cpu profile.
  max_model_len           the model's context (known models, or model_context)
  gpu_memory_utilization  0.9 (vLLM's default) for a replica with GPUs of its own; split evenly when the
                          operator asks for more replicas than GPU groups
  max_num_seqs            vLLM's own defaults for its API server: 1024 on cards of 70 GiB or more, else 256
  max_num_batched_tokens  the same source: 8192 on cards of 70 GiB or more, else 2048; never below
                          max_model_len (vllm#33109: without chunked prefill vLLM refuses to start). Halved,
                          but not below max_model_len, until the estimate fits
  tensor_parallel_size    1 if the model fits one GPU, else the smallest of 2, 4, 8 that fits on the host
  replicas                one per group of tensor_parallel_size GPUs
  gpu_ids                 the replicas pinned to the GPUs in index order (MIG-enabled GPUs left out)
  api_server_count        GPU hosts: one API server process per replica unless `vllm serve` runs and the host has
                          cores to spare, then (physical cores per replica - 2), at most 8: for embeddings the API
                          server (tokenising, JSON) is the bottleneck on GPUs (vllm#26641: 26 -> 77 req/s with 8)

The cpu profile (cpu facts from cpu_facts; without them only dtype float32 and the batch floor are chosen):
  dtype                   bfloat16 where the CPU computes it natively (avx512_bf16 or amx_bf16; bf16 on Arm),
                          else float16 where that is native (avx512_fp16 or amx_fp16; fphp on Arm), else float32.
                          --dtype auto follows the checkpoint (float16 for most), which a CPU without native
                          float16 runs through slow paths: measured on a 2-core avx512_bf16 host, 0.87 req/s at
                          512 tokens against 8.3 with bfloat16 and 5.4 with float32.
  replicas, cpu_sets      one replica per NUMA node with usable CPUs, each pinned to that node's CPUs (the
                          container's cpuset, all threads of its cores). A cgroup CPU quota below the usable CPUs
                          keeps only as many cores as the quota allows, so compute threads are not throttled.
                          With vllm_replicas set, the physical cores are shared out between them in node order.
  cpu_threads_bind        false: vLLM binds one compute thread per physical core of the cpuset itself ("auto",
                          hyper-thread siblings left to the server's other processes)
  cpu_reserved            cores of each replica kept free of compute threads for the API server process:
                          0 for long inputs on small hosts (compute-bound: 15.9 req/s with 0 against 8.3 with
                          vLLM's default of 1 at 512 tokens on 2 cores), 1 for short inputs (typical_input_tokens
                          below SHORT_INPUT_TOKENS: the front end is the bottleneck) or from RESERVE_FROM_CORES
                          cores up, where one core costs little
  cpu_omp_wait_policy     PASSIVE when no core is reserved for the API server (idle compute threads sleep instead
                          of spinning on its cores: 148 against 58 req/s at 8 tokens on 2 cores), else ACTIVE
  cpu_kvcache_space_gib   encoders keep no KV cache between steps: KVCACHE_MIN_GIB; decoders: their KV cache for
                          max(max_model_len, max_num_batched_tokens) tokens, doubled, in whole GiB
  max_num_seqs,           vLLM's defaults for its API server on CPU (128 and 2048 tokens per step), the tokens
  max_num_batched_tokens  never below max_model_len
  api_server_count        1: on a CPU host another API server process takes cores from compute
The memory check on CPU: weights + KV cache + CPU_OVERHEAD_GIB per replica must fit the memory of the host (or
of the cgroup's limit, when lower) shared by the replicas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Iterable, Optional

# The models it sizes without help: vllm_config.KNOWN_MODELS, the collection's one table (aliases included).
from ansible_collections.embedops.embeddings.plugins.module_utils.replica_plan import cpuset_text, split_evenly
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import KNOWN_MODELS, known_model

GIB = 1024 ** 3
MIB = 1024 ** 2
OVERHEAD_GIB = 1.5
ACTIVATION_FACTOR = 20
DEFAULT_GPU_MEMORY_UTILIZATION = 0.9
# vLLM's defaults for its OpenAI server (EngineArgs, usage context OPENAI_API_SERVER): bigger on >= 70 GiB cards.
LARGE_CARD_GIB = 70
DEFAULT_BATCHED_TOKENS = {"large": 8192, "small": 2048}
DEFAULT_MAX_NUM_SEQS = {"large": 1024, "small": 256}
CPU_DEFAULT_BATCHED_TOKENS = 2048
CPU_DEFAULT_MAX_NUM_SEQS = 128
CPU_OVERHEAD_GIB = 1.5
KVCACHE_MIN_GIB = 1
# Inputs shorter than this (tokens) make the API server, not the compute threads, the bottleneck.
SHORT_INPUT_TOKENS = 64
# From this many cores per replica, one core kept for the API server costs at most 1/16 of compute.
RESERVE_FROM_CORES = 16
MAX_API_SERVERS = 8
TP_SIZES = (1, 2, 4, 8)
BYTES = {"float32": 4, "float": 4, "float16": 2, "half": 2, "bfloat16": 2}
TUNED = ("dtype", "max_model_len", "gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens",
         "tensor_parallel_size", "replicas", "gpu_ids", "cpu_sets", "cpu_threads_bind", "cpu_reserved",
         "cpu_omp_wait_policy", "cpu_kvcache_space_gib", "api_server_count")

_COUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtb]?)\s*$", re.IGNORECASE)


def parse_count(value: Any) -> int:
    """567000000, "567M", "7.1B", "1.1G" -> int. Suffixes are powers of 1000 (B = billion, for params)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return int(value)
    match = _COUNT.match(str(value))
    if not match:
        raise ValueError(value)
    scale = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "b": 10 ** 9, "t": 10 ** 12}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def tune(settings: Any, gpus: Any = None, model_params: Any = None, model_weight_bytes: Any = None,
         model_hidden_size: Any = None, model_context: Any = None, model_kv_bytes_per_token: Any = None,
         cpu: Any = None, typical_input_tokens: Any = None, multi_api_server: Any = False) -> dict[str, Any]:
    """Choose the unset settings. Returns dict(settings, chosen, reasons, estimate, errors).

    settings: the vllm settings dict (keys without the vllm_ prefix; other keys are ignored).
    gpus: the embedops_gpus fact (list of dicts with index, uuid, name, memory_total_mib, compute_capability,
    mig_mode). cpu: the embedops_cpu fact of cpu_facts. typical_input_tokens: the workload's usual input length.
    multi_api_server: whether the server command can start several API servers (`vllm serve`).
    When errors is not empty the settings must not be used.
    """
    tuner = _Tuner(settings, gpus, model_params, model_weight_bytes, model_hidden_size, model_context,
                   model_kv_bytes_per_token)
    tuner.cpu = cpu if isinstance(cpu, Mapping) and cpu else None
    tuner.typical_input_tokens = tuner._int("typical_input_tokens", typical_input_tokens)
    tuner.multi_api_server = bool(multi_api_server)
    tuner.run()
    return {
        "settings": tuner.out,
        "chosen": [key for key in TUNED if key in tuner.chosen],
        "reasons": tuner.reasons,
        "estimate": tuner.estimate,
        "errors": tuner.errors,
    }


class _Tuner:
    def __init__(self, settings: Any, gpus: Any, model_params: Any, model_weight_bytes: Any, model_hidden_size: Any,
                 model_context: Any, model_kv_bytes_per_token: Any) -> None:
        self.errors: list[str] = []
        self.reasons: list[str] = []
        self.chosen: set[str] = set()
        self.estimate: dict[str, Any] = {}
        if not isinstance(settings, Mapping):
            self.errors.append("the vLLM settings must be a dict of vllm_* values without the prefix, not %r"
                               % (settings,))
            settings = {}
        self.cpu: Optional[Mapping[str, Any]] = None
        self.typical_input_tokens: Optional[int] = None
        self.multi_api_server = False
        self.given: dict[str, Any] = {key: settings.get(key) for key in TUNED}
        if str(self.given["dtype"] or "").lower() == "auto":
            self.given["dtype"] = None
        for key in TUNED:
            if self.given[key] in ("", [], None):
                self.given[key] = None
        self.profile = str(settings.get("profile") or "gpu")
        self.chunked = str(settings.get("enable_chunked_prefill")).lower() in ("true", "yes", "on", "1")
        self.cpus_given = settings.get("cpus") not in (None, "", [])
        self.model = settings.get("model_path_in_container") or settings.get("model") or ""
        self.model_name = settings.get("model") or self.model
        self.gpus = gpus
        self.overrides: dict[str, Any] = {
            "model_params": model_params, "model_weight_bytes": model_weight_bytes,
            "model_hidden_size": model_hidden_size, "model_context": model_context,
            "model_kv_bytes_per_token": model_kv_bytes_per_token,
        }
        self.out: dict[str, Any] = {}

    # --- reading ---------------------------------------------------------------------------------------------
    def _int(self, key: str, value: Any, minimum: int = 1, variable: str | None = None) -> int | None:
        if value is None:
            return None
        try:
            number = parse_count(value) if key.startswith("model_") else int(str(value))
        except (TypeError, ValueError):
            self.errors.append("%s must be a whole number, not %r" % (variable or "vllm_" + key, value))
            return None
        if number < minimum:
            self.errors.append("%s must be at least %d, not %d" % (variable or "vllm_" + key, minimum, number))
            return None
        return number

    def _read(self) -> None:
        g = self.given
        for key in ("max_model_len", "max_num_seqs", "max_num_batched_tokens", "tensor_parallel_size", "replicas",
                    "api_server_count"):
            g[key] = self._int(key, g[key])
        for key in ("cpu_reserved", "cpu_kvcache_space_gib"):
            g[key] = self._int(key, g[key], minimum=0)
        if g["cpu_threads_bind"] is not None:
            g["cpu_threads_bind"] = str(g["cpu_threads_bind"]).lower() in ("true", "yes", "on", "1")
        if g["gpu_memory_utilization"] is not None:
            try:
                g["gpu_memory_utilization"] = float(g["gpu_memory_utilization"])
                if not 0 < g["gpu_memory_utilization"] <= 1:
                    raise ValueError
            except (TypeError, ValueError):
                self.errors.append("vllm_gpu_memory_utilization must be a fraction in (0, 1], e.g. 0.9, not %r"
                                   % (g["gpu_memory_utilization"],))
                g["gpu_memory_utilization"] = None
        if g["gpu_ids"] is not None:
            ids = g["gpu_ids"].split(",") if isinstance(g["gpu_ids"], str) else g["gpu_ids"]
            g["gpu_ids"] = [str(i).strip() for i in ids]
        if g["dtype"] is not None:
            g["dtype"] = str(g["dtype"]).lower()
            if g["dtype"] not in BYTES:
                self.errors.append("vllm_dtype %r is not one of auto, %s" % (g["dtype"], ", ".join(sorted(BYTES))))
                g["dtype"] = None
        o = self.overrides
        for key in ("model_params", "model_weight_bytes", "model_hidden_size", "model_context",
                    "model_kv_bytes_per_token"):
            o[key] = None if o[key] in ("", None) else self._int(key, o[key], variable="vllm_" + key)

    def _model(self) -> dict[str, Any]:
        """params, weight bytes (None: from params and dtype), hidden, context, kv bytes per token at fp16."""
        key = known_model(self.model_name) or known_model(self.model)
        known = KNOWN_MODELS.get(key or "", {})
        o = self.overrides
        model = {
            "key": key,
            "params": o["model_params"] or known.get("params"),
            "weight_bytes": o["model_weight_bytes"],
            "hidden": o["model_hidden_size"] or known.get("hidden"),
            "context": o["model_context"] or known.get("context"),
            "kv_fp16": o["model_kv_bytes_per_token"] or known.get("kv_bytes_per_token_fp16"),
        }
        if key:
            self.reasons.append("model: %s is known (%s parameters, hidden size %d, context %d tokens%s)" % (
                key, _count(known["params"]), known["hidden"], known["context"],
                ", decoder with a KV cache" if known.get("kv_bytes_per_token_fp16") else ", encoder"))
        if not (model["params"] or model["weight_bytes"]):
            self.errors.append(
                "cannot size model %r: it is not one of the known models (%s). Set vllm_model_params (for example "
                "\"335M\") or vllm_model_weight_bytes, or set the engine flags yourself and vllm_tune: false"
                % (self.model_name, ", ".join(sorted(KNOWN_MODELS))))
        if not model["hidden"]:
            model["hidden"] = 1024
            self.reasons.append("model: hidden size unknown, assumed 1024 for the activation estimate (set "
                                "vllm_model_hidden_size for a better one)")
        return model

    # --- choosing --------------------------------------------------------------------------------------------
    def _pick(self, key: str, value: Any, why: str) -> Any:
        """The given value if set (noted as kept), else value (noted with why)."""
        if self.given[key] is not None:
            self.out[key] = self.given[key]
            self.reasons.append("%s: %s, as set (vllm_%s)" % (key, _show(self.given[key]), key))
        else:
            self.out[key] = value
            self.chosen.add(key)
            self.reasons.append("%s: %s, %s" % (key, _show(value), why))
        return self.out[key]

    def run(self) -> None:
        self._read()
        if self.profile == "cpu":
            self._cpu()
        elif self.profile == "gpu":
            self._gpu()
        else:
            self.errors.append("vllm_profile %r is not one of cpu, gpu" % (self.profile,))

    def _max_model_len(self, model: dict[str, Any]) -> Any:
        if self.given["max_model_len"] is None and not model["context"]:
            self.errors.append("the context of model %r is unknown: set vllm_max_model_len (or vllm_model_context)"
                               % (self.model_name,))
            return None
        return self._pick("max_model_len", model["context"], "the model's context")

    def _cpu(self) -> None:
        model = self._model()
        cpu = self.cpu
        self._cpu_dtype(cpu)
        length = self._max_model_len(model)
        if length:
            self._batched_floor(length, CPU_DEFAULT_BATCHED_TOKENS, "vLLM's default for its API server on CPU")
        for key in ("gpu_memory_utilization", "tensor_parallel_size", "gpu_ids"):
            if self.given[key] is not None:
                self.out[key] = self.given[key]
        if cpu is None:
            self.reasons.append("CPU facts not given (cpu_facts): placement, reserved cores and the KV cache are "
                                "left to the settings and vLLM's defaults")
            for key in ("max_num_seqs", "replicas", "cpu_sets", "cpu_threads_bind", "cpu_reserved",
                        "cpu_omp_wait_policy", "cpu_kvcache_space_gib", "api_server_count"):
                if self.given[key] is not None:
                    self.out[key] = self.given[key]
            return
        self._pick("max_num_seqs", CPU_DEFAULT_MAX_NUM_SEQS, "vLLM's default for its API server on CPU")
        cores = self._cpu_placement(cpu)
        if self.errors or not cores:
            return
        per_replica = min(len(group) for group in cores)
        self._cpu_reserved(per_replica)
        self._cpu_wait_policy()
        self._pick("api_server_count", 1, "on a CPU host another API server process takes cores from compute "
                                          "(measured on 2 cores: 12.0 req/s with 2 against 15.9 with 1 at 512 tokens)")
        self._cpu_memory(cpu, model, length)

    def _cpu_dtype(self, cpu: Mapping[str, Any] | None) -> None:
        isa = (cpu or {}).get("isa") or {}
        given = self.given["dtype"]
        if cpu is None:
            self._pick("dtype", "float32", "the CPU is unknown (no cpu facts); float32 runs at full speed on every CPU")
            return
        bf16, fp16 = bool(cpu.get("bf16_native")), bool(cpu.get("fp16_native"))
        names = [flag for flag in ("avx512_bf16", "amx_bf16", "avx512_fp16", "amx_fp16") if isa.get(flag)]
        has = ("it has " + ", ".join(names)) if names else "it has no avx512_bf16, amx_bf16, avx512_fp16 or amx_fp16"
        if bf16:
            self._pick("dtype", "bfloat16", "the CPU computes bfloat16 natively (%s)" % has)
        elif fp16:
            self._pick("dtype", "float16", "the CPU computes float16 natively but not bfloat16 (%s)" % has)
        else:
            self._pick("dtype", "float32", "the CPU has no native bfloat16 or float16 (%s): 16-bit types would run "
                                           "through slow conversions" % has)
        if given in ("bfloat16",) and not bf16 or given in ("float16", "half") and not fp16:
            self.reasons.append("note: vllm_dtype %s is not native on this CPU (%s) and runs slowly; leave vllm_dtype "
                                "unset to let the tuner choose" % (given, has))

    def _cpu_placement(self, cpu: Mapping[str, Any]) -> list[Any] | None:
        """Choose replicas and cpu_sets from the NUMA nodes and cores; returns each replica's cores."""
        cores = [core for core in cpu.get("cores") or [] if core.get("cpus")]
        if not cores:
            usable = cpu.get("usable_cpus") or []
            cores = [{"node": 0, "cpus": [c]} for c in usable]
        if not cores:
            self.errors.append("cpu_facts found no usable CPU on the host: set vllm_cpus and the engine flags "
                               "yourself (vllm_tune: false)")
            return None
        quota = cpu.get("cgroup_cpu_quota")
        if isinstance(quota, (int, float)) and 0 < quota < len(cores):
            keep = max(1, int(quota))
            self.reasons.append("the cgroup allows %s CPUs: %d of the %d usable cores are used, so compute threads "
                                "are not throttled" % (_show(quota), keep, len(cores)))
            cores = cores[:keep]
        if self.cpus_given or self.given["cpu_sets"] is not None:
            replicas = self._pick("replicas", self.given["replicas"] or
                                  (len(self.given["cpu_sets"]) if self.given["cpu_sets"] is not None else 1),
                                  "one per set in vllm_cpu_sets" if self.given["cpu_sets"] is not None else
                                  "one, on the CPUs of vllm_cpus")
            if self.given["cpu_sets"] is not None:
                self._pick("cpu_sets", self.given["cpu_sets"], "")
            if self.given["cpu_threads_bind"] is not None:
                self.out["cpu_threads_bind"] = self.given["cpu_threads_bind"]
            count = max(1, len(self.given["cpu_sets"] or []) or replicas)
            return split_evenly(cores, count)
        nodes = sorted({core.get("node", 0) for core in cores})
        by_node = [[core for core in cores if core.get("node", 0) == node] for node in nodes]
        if len(nodes) > 1:
            why = "one per NUMA node (%d nodes with usable CPUs)" % len(nodes)
        else:
            why = "one: the host has one NUMA node with usable CPUs"
        replicas = self._pick("replicas", len(nodes), why)
        if replicas == len(nodes):
            groups = by_node
            how = "each pinned to one NUMA node's cores"
        elif replicas > len(cores):
            self.errors.append("vllm_replicas %d is more than the %d usable physical cores: lower vllm_replicas"
                               % (replicas, len(cores)))
            return None
        else:
            groups = split_evenly(cores, replicas)
            how = "the %d physical cores shared out in node order" % len(cores)
        sets = [cpuset_text(sorted(c for core in group for c in core["cpus"])) for group in groups]
        self._pick("cpu_sets", sets, "%s (%s)" % (how, ", ".join(
            "replica %d: %d cores" % (i, len(group)) for i, group in enumerate(groups))))
        self._pick("cpu_threads_bind", False, "vLLM binds one compute thread per physical core of each replica's "
                                              "cpuset itself (hyper-thread siblings left to its other processes)")
        return groups

    def _cpu_reserved(self, per_replica: int) -> None:
        tokens = self.typical_input_tokens
        if self.out.get("cpu_threads_bind") is not False:
            if self.given["cpu_reserved"] is not None:
                self.out["cpu_reserved"] = self.given["cpu_reserved"]
            self.reasons.append("cpu_reserved: not used: each replica's compute threads are bound to every CPU of its "
                                "set (vllm_cpu_threads_bind)")
            return
        if per_replica <= 1:
            value, why = 0, "each replica has one core: nothing to keep back"
        elif tokens is not None and tokens < SHORT_INPUT_TOKENS:
            value, why = 1, ("short inputs (vllm_typical_input_tokens %d < %d) make the API server the bottleneck: "
                             "one core kept for it (measured on 2 cores, 8-token inputs: 210 req/s against 180)"
                             % (tokens, SHORT_INPUT_TOKENS))
        elif per_replica >= RESERVE_FROM_CORES:
            value, why = 1, ("one of %d cores kept for the API server costs at most 1/%d of compute"
                             % (per_replica, RESERVE_FROM_CORES))
        else:
            value, why = 0, ("%s inputs are compute-bound on %d cores: every core computes (measured on 2 cores at 512 "
                             "tokens: 15.9 req/s with 0 reserved against 8.3 with vLLM's default of 1)"
                             % ("long" if tokens is None else "%d-token" % tokens, per_replica))
            if tokens is None:
                why += "; set vllm_typical_input_tokens if most inputs are short"
        self._pick("cpu_reserved", value, why)

    def _cpu_wait_policy(self) -> None:
        if self.out.get("cpu_reserved") == 0 or self.out.get("cpu_threads_bind") is not False:
            value, why = "PASSIVE", ("no core is kept for the API server, so compute threads that spin while idle "
                                     "take the cores it needs; PASSIVE puts them to sleep at once (measured on 2 "
                                     "cores: 148 against 58 req/s at 8 tokens, 3.5 against 2.9 at 512)")
        else:
            value, why = "ACTIVE", "the API server has a core of its own; spinning compute threads answer sooner"
        self._pick("cpu_omp_wait_policy", value, why)

    def _cpu_memory(self, cpu: Mapping[str, Any], model: dict[str, Any], length: Any) -> None:
        value_bytes = BYTES.get(self.out.get("dtype") or "", 4)
        weights = model["weight_bytes"] or (model["params"] or 0) * value_bytes
        batched = self.out.get("max_num_batched_tokens") or length
        if model["kv_fp16"]:
            kv_bytes = model["kv_fp16"] * value_bytes / 2.0 * max(length, batched)
            kv_gib = max(KVCACHE_MIN_GIB, int(math.ceil(2 * kv_bytes / GIB)))
            why = ("the KV cache of %d tokens (%.1f GiB), doubled" % (max(length, batched), kv_bytes / GIB))
        else:
            kv_gib, why = KVCACHE_MIN_GIB, "an encoder keeps no KV cache between steps; vLLM's smallest pool"
        kv = self._pick("cpu_kvcache_space_gib", kv_gib, why)
        memory = cpu.get("memory_total_mib")
        limit = cpu.get("cgroup_memory_limit_mib")
        if isinstance(limit, int) and (not isinstance(memory, int) or limit < memory):
            memory, where = limit, "the cgroup's memory limit"
        else:
            where = "the host's memory"
        if not isinstance(memory, int) or memory <= 0:
            return
        replicas = self.out.get("replicas") or 1
        needed = weights + kv * GIB + CPU_OVERHEAD_GIB * GIB
        share = memory * MIB / replicas
        self.estimate = {"weights": round(weights / GIB, 2), "kv_cache": round(kv, 2), "overhead": CPU_OVERHEAD_GIB,
                         "needed": round(needed / GIB, 2), "available": round(share / GIB, 2)}
        line = ("~%.1f GiB per replica (weights %.1f + KV cache %d + overhead %.1f) of %.1f GiB (%s / %d replicas)"
                % (needed / GIB, weights / GIB, kv, CPU_OVERHEAD_GIB, share / GIB, where, replicas))
        if needed > share:
            self.errors.append("%s does not fit: it needs %s. To fix: run fewer replicas (vllm_replicas), lower "
                               "vllm_max_model_len or vllm_cpu_kvcache_space_gib, or use a host with more memory"
                               % (self.model_name or "the model", line))
        else:
            self.reasons.append("memory: " + line)

    def _api_servers_gpu(self, replicas: int) -> Any:
        cpu = self.cpu
        if not self.multi_api_server:
            return self._pick("api_server_count", 1, "the server command starts one API server (only `vllm serve` "
                                                     "starts several)")
        if cpu is None:
            return self._pick("api_server_count", 1, "the host's CPUs are unknown (no cpu facts)")
        cores = int(cpu.get("physical_cores") or 0)
        quota = cpu.get("cgroup_cpu_quota")
        if isinstance(quota, (int, float)) and quota > 0:
            cores = min(cores, int(quota))
        spare = cores // max(1, replicas) - 2
        value = max(1, min(MAX_API_SERVERS, spare))
        return self._pick("api_server_count", value,
                          "%d physical cores for %d replica(s): two per replica for the engine, the rest (at most %d) "
                          "for API servers, the bottleneck for embeddings on GPUs (vllm#26641: 26 -> 77 req/s with 8)"
                          % (cores, replicas, MAX_API_SERVERS))

    def _batched_floor(self, length: int, default: int, default_why: str) -> Any:
        given = self.given["max_num_batched_tokens"]
        if given is not None:
            if given < length and not self.chunked:
                self.errors.append(
                    "vllm_max_num_batched_tokens (%d) is below vllm_max_model_len (%d): without chunked prefill vLLM "
                    "refuses to start (vllm#33109). Raise vllm_max_num_batched_tokens to at least %d or lower "
                    "vllm_max_model_len" % (given, length, length))
            return self._pick("max_num_batched_tokens", given, "")
        value = max(length, default)
        why = ("%s is %d, raised to max_model_len" % (default_why, default) if value > default
               else "%s, not below max_model_len %d" % (default_why, length))
        return self._pick("max_num_batched_tokens", value, why)

    def _usable_gpus(self) -> list[Mapping[str, Any]]:
        gpus = [gpu for gpu in (self.gpus or []) if isinstance(gpu, Mapping)]
        if not gpus:
            self.errors.append("vllm_profile is gpu but the host has no usable NVIDIA GPU (embedops_gpus is empty): "
                               "install the driver and the NVIDIA Container Toolkit, or set vllm_profile: cpu")
            return []
        ids = self.given["gpu_ids"]
        if ids is not None:
            by_id: dict[str, Mapping[str, Any]] = {}
            for gpu in gpus:
                by_id[str(gpu.get("index"))] = gpu
                by_id[str(gpu.get("uuid"))] = gpu
            missing = [i for i in ids if i not in by_id]
            if missing:
                self.errors.append("vllm_gpu_ids lists %s, which the host does not have (it has %s)"
                                   % (", ".join(missing), ", ".join(str(g.get("index")) for g in gpus)))
                return []
            return [by_id[i] for i in ids]
        mig = [gpu for gpu in gpus if str(gpu.get("mig_mode") or "").lower() == "enabled"]
        for gpu in mig:
            self.reasons.append("GPU %s (%s) left out: MIG is enabled, its memory is split into instances this tuner "
                                "does not size; pin MIG devices with vllm_gpu_ids and set the flags yourself"
                                % (gpu.get("index"), gpu.get("name")))
        gpus = [gpu for gpu in gpus if gpu not in mig]
        if not gpus:
            self.errors.append("every GPU on the host has MIG enabled: set vllm_gpu_ids and the engine flags yourself "
                               "(vllm_tune: false), or disable MIG (nvidia-smi -mig 0)")
        return gpus

    def _gpu(self) -> None:
        gpus = self._usable_gpus()
        model = self._model()
        if not gpus:
            return
        sizes = [gpu.get("memory_total_mib") for gpu in gpus]
        unsized = [str(g.get("index")) for g, size in zip(gpus, sizes) if not isinstance(size, int) or size <= 0]
        if unsized:
            self.errors.append("nvidia-smi reports no memory size for GPU(s) %s: set the engine flags yourself "
                               "(vllm_tune: false)" % ", ".join(unsized))
            return
        card = min(gpus, key=lambda gpu: gpu["memory_total_mib"])
        card_gib = card["memory_total_mib"] * MIB / GIB
        size = "large" if card_gib >= LARGE_CARD_GIB else "small"
        label = "%s of %.1f GiB" % (card.get("name") or "GPU", card_gib)
        default_why = "vLLM's default on a card of %s 70 GiB" % (">=" if size == "large" else "<")
        if len({gpu.get("name") for gpu in gpus}) > 1:
            self.reasons.append("GPUs differ: sized for the smallest, GPU %s (%s)" % (card.get("index"), label))

        self._dtype(gpus)
        value_bytes = BYTES[self.out["dtype"]]
        length = self._max_model_len(model)
        if self.errors or not length:
            return
        weights = model["weight_bytes"] or model["params"] * value_bytes
        seqs = self._pick("max_num_seqs", DEFAULT_MAX_NUM_SEQS[size], default_why)
        batched = self._batched_floor(length, DEFAULT_BATCHED_TOKENS[size], default_why)
        if self.errors:
            return

        groups_tp = self.given["tensor_parallel_size"]
        tp_options = [groups_tp] if groups_tp else [tp for tp in TP_SIZES if tp <= len(gpus)]
        batch_options = [batched]
        if self.given["max_num_batched_tokens"] is None:
            while batch_options[-1] // 2 >= length:
                batch_options.append(batch_options[-1] // 2)
            if batch_options[-1] > length:
                batch_options.append(length)

        def util_for(tp: int) -> tuple[float, int, int]:
            groups = max(1, len(gpus) // tp)
            replicas = self.given["replicas"] or groups
            share = max(1, math.ceil(replicas / groups))
            if self.given["gpu_memory_utilization"] is not None:
                return self.given["gpu_memory_utilization"], replicas, share
            return math.floor(DEFAULT_GPU_MEMORY_UTILIZATION / share * 100) / 100.0, replicas, share

        attempt: Any = None  # tp_options is never empty: set by the loop
        for tp in tp_options:
            util, replicas, share = util_for(tp)
            for batch in batch_options:
                attempt = self._estimate(model, weights, value_bytes, tp, batch, seqs, length, util, card)
                attempt.update(replicas=replicas, share=share, util=util, tp=tp, batch=batch)
                if attempt["needed"] <= attempt["available"]:
                    break
            if attempt["needed"] <= attempt["available"]:
                break
        self.estimate = {k: round(v / GIB, 2) for k, v in attempt.items()
                         if k in ("weights", "activations", "kv_cache", "overhead", "needed", "available")}
        self.estimate.update(card=card.get("name"), card_memory_gib=round(card_gib, 1),
                             tensor_parallel_size=attempt["tp"], batch_tokens=attempt["batch_tokens"])
        if attempt["needed"] > attempt["available"]:
            self._does_not_fit(attempt, gpus, label, length, seqs)
            return

        tp = self._pick("tensor_parallel_size", attempt["tp"],
                        "the model fits one GPU" if attempt["tp"] == 1 else
                        "the smallest split across GPUs that fits (tensor parallel needs --ipc=host or a big shm)")
        if len(gpus) < tp:
            self.errors.append("vllm_tensor_parallel_size %d needs %d GPUs but %d are usable: lower it"
                               % (tp, tp, len(gpus)))
            return
        groups = len(gpus) // tp
        self._pick("replicas", groups, "one per %s" % ("GPU" if tp == 1 else "group of %d GPUs" % tp))
        replicas, share = self.out["replicas"], attempt["share"]
        if self.given["max_num_batched_tokens"] is None and attempt["batch"] != batched:
            self.out["max_num_batched_tokens"] = attempt["batch"]
            self.reasons.append("max_num_batched_tokens: lowered to %d so the estimate fits" % attempt["batch"])
        self._pick("gpu_memory_utilization", attempt["util"],
                   "vLLM's default, each replica has its GPUs to itself" if share == 1 else
                   "%d replicas share each GPU group and split 0.9 of it (pin one replica per GPU instead)" % share)
        if share == 1:
            pinned = [str(gpu.get("index")) for gpu in gpus[:replicas * tp]]
            self._pick("gpu_ids", pinned, "each replica pinned to its own GPU%s" % ("s" if tp > 1 else ""))
        elif self.given["gpu_ids"] is not None:
            self.errors.append("vllm_replicas %d need %d groups of %d GPUs but vllm_gpu_ids lists %d: list more GPUs, "
                               "lower vllm_replicas or unset vllm_gpu_ids to let the replicas share"
                               % (replicas, replicas, tp, len(self.given["gpu_ids"])))
        self.reasons.append(
            "memory per GPU: ~%.1f GiB needed (weights %.1f + activations %.1f + KV cache %.1f + overhead %.1f) of "
            "%.1f GiB reserved (gpu_memory_utilization %s x %s)" % (
                attempt["needed"] / GIB, attempt["weights"] / GIB, attempt["activations"] / GIB,
                attempt["kv_cache"] / GIB, attempt["overhead"] / GIB, attempt["available"] / GIB,
                _show(attempt["util"]), label))
        self._free_memory_note(gpus[:replicas * tp] if share == 1 else gpus, attempt["util"])
        self._api_servers_gpu(replicas)

    def _dtype(self, gpus: list[Mapping[str, Any]]) -> None:
        caps = [_capability(gpu.get("compute_capability")) for gpu in gpus]
        known = [cap for cap in caps if cap is not None]
        if len(known) < len(caps):
            if self.given["dtype"] is None:
                self._pick("dtype", "float16", "the compute capability is unknown (driver before 510); float16 runs "
                                               "on every CUDA GPU")
            else:
                self._pick("dtype", None, "")
            return
        low = min(known)
        if self.given["dtype"] == "bfloat16" and low < (8, 0):
            self.errors.append(
                "vllm_dtype bfloat16 needs compute capability 8.0 or more, but GPU %s has %s: set vllm_dtype: "
                "float16 (or leave it unset)" % (
                    ", ".join(str(g.get("index")) for g, c in zip(gpus, known) if c < (8, 0)),
                    "%d.%d" % low))
        if low >= (8, 0):
            self._pick("dtype", "bfloat16", "compute capability %d.%d >= 8.0 runs bfloat16 natively" % low)
        else:
            self._pick("dtype", "float16", "compute capability %d.%d < 8.0 has no bfloat16" % low)

    def _estimate(self, model: dict[str, Any], weights: float, value_bytes: int, tp: int, batch: int, seqs: int,
                  length: int, util: float, card: Mapping[str, Any]) -> dict[str, Any]:
        batch_tokens = min(batch, seqs * length)
        activations = batch_tokens * model["hidden"] * value_bytes * ACTIVATION_FACTOR
        kv_cache = 0
        if model["kv_fp16"]:
            kv_cache = model["kv_fp16"] * value_bytes / 2.0 * max(length, batch_tokens)
        overhead = OVERHEAD_GIB * GIB
        needed = (weights + activations + kv_cache) / tp + overhead
        available = card["memory_total_mib"] * MIB * util
        return {"weights": weights / tp, "activations": activations / tp, "kv_cache": kv_cache / tp,
                "overhead": overhead, "needed": needed, "available": available, "batch_tokens": batch_tokens}

    def _does_not_fit(self, attempt: dict[str, Any], gpus: list[Mapping[str, Any]], label: str, length: int,
                      seqs: int) -> None:
        fixes: list[str] = []
        if self.given["max_num_batched_tokens"] is not None and attempt["batch"] > length:
            fixes.append("lower vllm_max_num_batched_tokens (%d; not below vllm_max_model_len %d)"
                         % (attempt["batch"], length))
        if attempt["batch_tokens"] > length:
            fixes.append("set fewer vllm_max_num_seqs (%d)" % seqs)
        fixes.append("lower vllm_max_model_len (%d)" % length)
        more_tp = [tp for tp in TP_SIZES if tp > attempt["tp"]]
        if more_tp and more_tp[0] <= len(gpus):
            fixes.append("raise vllm_tensor_parallel_size to %d" % more_tp[0])
        elif more_tp:
            fixes.append("split the model over more GPUs (vllm_tensor_parallel_size %d needs %d; the host has %d)"
                         % (more_tp[0], more_tp[0], len(gpus)))
        if attempt["share"] > 1:
            fixes.append("run fewer replicas per GPU (vllm_replicas)")
        elif attempt["util"] < DEFAULT_GPU_MEMORY_UTILIZATION:
            fixes.append("raise vllm_gpu_memory_utilization (%s) if nothing else uses the GPU" % _show(attempt["util"]))
        fixes.append("use a bigger card")
        self.errors.append(
            "%s does not fit: it needs ~%.1f GiB per GPU (weights %.1f + activations %.1f + KV cache %.1f + overhead "
            "%.1f GiB, dtype %s, tensor_parallel_size %d, %d tokens per step) but gpu_memory_utilization %s of the "
            "%s leaves %.1f GiB. To fix: %s" % (
                self.model_name or "the model", attempt["needed"] / GIB, attempt["weights"] / GIB,
                attempt["activations"] / GIB, attempt["kv_cache"] / GIB, attempt["overhead"] / GIB, self.out["dtype"],
                attempt["tp"], attempt["batch_tokens"], _show(attempt["util"]), label, attempt["available"] / GIB,
                "; ".join(fixes)))

    def _free_memory_note(self, gpus: Iterable[Any], util: float) -> None:
        for gpu in gpus:
            free, total = gpu.get("memory_free_mib"), gpu.get("memory_total_mib")
            if isinstance(free, int) and free < total * util:
                self.reasons.append(
                    "note: GPU %s has %.1f of %.1f GiB free now; vLLM starts only when %.1f GiB are free (this "
                    "includes replicas of this service already running there, which a restart frees)"
                    % (gpu.get("index"), free / 1024.0, total / 1024.0, total * util / 1024.0))


def _capability(text: Any) -> tuple[int, int] | None:
    match = re.match(r"^\s*(\d+)\.(\d+)\s*$", str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _count(number: float) -> str:
    return "%.1fB" % (number / 1e9) if number >= 1e9 else "%dM" % round(number / 1e6)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[%s]" % ", ".join(str(v) for v in value)
    return str(value)
