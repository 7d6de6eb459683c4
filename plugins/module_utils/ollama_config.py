# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ollama role's checks and replica plan: what cannot work, and one container spec per replica.

Pure Python (stdlib only); plugins/filter/ollama.py exposes it to the role as the filters ollama_config_errors and
ollama_replicas. Ports, names, addresses and the CPU/GPU split come from replica_plan, shared with vllm_config.

The settings ``cfg`` are a dict keyed by the role's variable names without the ``ollama_`` prefix (the role builds
it as ``_ollama_config`` in vars/main.yml). Every key is optional; None, "" or an empty list or dict means unset
(the default below), except models and healthcheck_command, where empty is refused. Unknown keys are reported.

  key                       default                   meaning
  models                    required                  model names, pulled in this order
  replicas                  1                         one server (container) per replica
  port                      11434                     host port of replica 0; replica i gets port + i
  ports                     None                      explicit host ports, one per replica
  bind_address              "127.0.0.1"               host address the ports are published on
  advertise_host            bind_address, or          host name in the replicas' URLs
                            127.0.0.1 for a wildcard
  container_prefix          "embedops-ollama"         containers are named <prefix>-<index>
  profile                   "cpu"                     "cpu" or "gpu" (NVIDIA device requests)
  gpu_ids                   None                      GPUs to pin (list, or "0,1"): replica i gets the i-th group of
                                                      gpus_per_replica; unset: every replica sees all GPUs
  gpus_per_replica          1
  cpus                      None                      CPU ids ([0, 1] or "0-7") split evenly between the replicas
  models_volume             "embedops-ollama-models"  Docker volume mounted at MODELS_DIR
  volume_per_replica        False                     False: one volume, replica 0 alone pulls and deletes (the
                                                      others get OLLAMA_NOPRUNE=1); True: <volume>-<index> each
  keep_alive, max_loaded_models, max_queue, context_length, num_parallel
                            None                      OLLAMA_KEEP_ALIVE ... OLLAMA_NUM_PARALLEL, as strings
  flash_attention           None                      OLLAMA_FLASH_ATTENTION "1" or "0"
  https_proxy, no_proxy     None                      HTTPS_PROXY, NO_PROXY
  extra_env                 {}                        merged last into the environment (values made strings)
  healthcheck_command       [CMD, ollama, list]       the health check's test, exec form
  healthcheck_start_period  30                        seconds
  ready_timeout             120                       seconds (checked only)
  pull_timeout              600                       seconds (checked only)
  webui_enabled             False                     Open WebUI's port joins the port checks
  webui_port                3000
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Callable

from ansible_collections.embedops.embeddings.plugins.module_utils.endpoints import endpoint_url, is_wildcard
from ansible_collections.embedops.embeddings.plugins.module_utils.replica_plan import (
    as_bool,
    as_dict,
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
    unset,
)

# Inside its container every replica listens on this port (the image's OLLAMA_HOST=0.0.0.0:11434); only the
# published host port (on ollama_bind_address) reaches it.
CONTAINER_PORT = 11434
# The model store and the server's key, in the image.
MODELS_DIR = "/root/.ollama"
PROFILES = ("cpu", "gpu")
HEALTHCHECK = {"interval": "10s", "timeout": "5s", "retries": 3}
LABEL_ROLE = "ollama"
# Ollama's model name grammar ([registry/][namespace/]model[:tag], types/model/name.go), as ollama_api checks it.
# roles/ollama/vars/main.yml keeps the same expression as _ollama_model_name_re for playbooks/switch_model.yml.
MODEL_NAME = re.compile(
    r"^(([A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}/)?[A-Za-z0-9_][A-Za-z0-9_-]{0,79}/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$")
# The server's environment, from these settings, in this order.
ENV = (("keep_alive", "OLLAMA_KEEP_ALIVE"), ("max_loaded_models", "OLLAMA_MAX_LOADED_MODELS"),
       ("max_queue", "OLLAMA_MAX_QUEUE"), ("context_length", "OLLAMA_CONTEXT_LENGTH"),
       ("flash_attention", "OLLAMA_FLASH_ATTENTION"), ("num_parallel", "OLLAMA_NUM_PARALLEL"),
       ("https_proxy", "HTTPS_PROXY"), ("no_proxy", "NO_PROXY"))
TIMEOUTS = {"ready_timeout": 120, "pull_timeout": 600}

Settings = dict[str, Any]

DEFAULTS: Settings = {
    "models": [], "replicas": 1, "port": 11434, "ports": None, "bind_address": "127.0.0.1", "advertise_host": None,
    "container_prefix": "embedops-ollama", "profile": "cpu", "gpu_ids": None, "gpus_per_replica": 1, "cpus": None,
    "models_volume": "embedops-ollama-models", "volume_per_replica": False, "keep_alive": None,
    "max_loaded_models": None, "max_queue": None, "context_length": None, "flash_attention": None,
    "num_parallel": None, "https_proxy": None, "no_proxy": None, "extra_env": {},
    "healthcheck_command": ["CMD", "ollama", "list"], "healthcheck_start_period": 30,
    "ready_timeout": TIMEOUTS["ready_timeout"], "pull_timeout": TIMEOUTS["pull_timeout"],
    "webui_enabled": False, "webui_port": 3000,
}
# Empty is an error for these, not a default.
REQUIRED = ("models", "healthcheck_command")


def config_errors(cfg: Any) -> list[str]:
    """Every impossible setting in cfg, each naming its variable and the fix."""
    return _check(cfg)[1]


def plan_replicas(cfg: Any) -> list[dict[str, Any]]:
    """One replica per dict: what its community.docker.docker_container task copies, and what the checks need."""
    s = _valid(cfg)
    count, shared, bind = s["replicas"], not s["volume_per_replica"], s["bind_address"]
    env = _env(s)
    shares = cpu_shares(s["cpus"], None, count)
    endpoints = replica_endpoints(s["container_prefix"], host_ports(s["port"], s["ports"], count), bind,
                                  s["advertise_host"], CONTAINER_PORT)
    replicas: list[dict[str, Any]] = []
    for i, endpoint in enumerate(endpoints):
        volume = s["models_volume"] if shared else "%s-%d" % (s["models_volume"], i)
        replicas.append(dict(
            endpoint,
            # How the host itself reaches the replica (waits, pulls and checks run on the host).
            api_base=endpoint_url(bind, endpoint["port"], path="", local=True),
            volume=volume,
            # One writer per model store: replica 0 of a shared volume, every replica with its own.
            pulls=i == 0 or not shared,
            env=dict(env, OLLAMA_NOPRUNE="1") if shared and i > 0 else dict(env),
            device_requests=gpu_device_requests(s["gpu_ids"], s["gpus_per_replica"], i)
            if s["profile"] == "gpu" else [],
            cpuset_cpus=cpuset_text(shares[i]) if shares[i] else "",
            mounts=[{"type": "volume", "source": volume, "target": MODELS_DIR}],
            healthcheck=dict(HEALTHCHECK, test=list(s["healthcheck_command"]),
                             start_period="%ds" % s["healthcheck_start_period"]),
            labels={"io.embedops.role": LABEL_ROLE, "io.embedops.replica": str(i)},
        ))
    return replicas


def _env(s: Settings) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, name in ENV:
        value = s[key]
        if value is not None:
            env[name] = ("1" if value else "0") if key == "flash_attention" else str(value)
    env.update((str(k), str(v)) for k, v in s["extra_env"].items())
    return env


def _valid(cfg: Any) -> Settings:
    s, errors = _check(cfg)
    if errors or s is None:  # s is None only with errors
        raise ValueError("invalid Ollama settings:\n- " + "\n- ".join(errors))
    return s


def _check(cfg: Any) -> tuple[Settings | None, list[str]]:
    """(settings, errors): the preflight's refusals, in the order it has always given them, then the rest."""
    if not isinstance(cfg, Mapping):
        return None, ["the Ollama settings must be a dict of ollama_* values without the prefix, not %r" % (cfg,)]
    raw: Settings = dict(DEFAULTS)
    raw.update((k, v) for k, v in cfg.items() if k in DEFAULTS and not unset(v))
    raw.update((k, []) for k in REQUIRED if k in cfg and unset(cfg[k]))
    s, late = _read(raw)
    unknown = sorted(str(key) for key in cfg if key not in DEFAULTS)
    if unknown:
        late.insert(0, "unknown settings %s: check the variable names" % ", ".join("ollama_" + k for k in unknown))
    errors: list[str] = []
    count = s["replicas"]
    if count < 1:
        errors.append("ollama_replicas must be 1 or more (got %s)." % (raw["replicas"],))
    models = s["models"]
    if models is not None:
        if not models:
            errors.append("ollama_models is empty: name at least one model to serve, for example [bge-m3].")
        for name in models:
            if not (isinstance(name, str) and MODEL_NAME.fullmatch(name)):
                errors.append("ollama_models: %s is not a valid Ollama model name: write it as "
                              "[registry/][namespace/]model[:tag], for example bge-m3, all-minilm:22m or "
                              "myteam/bge-m3:q8_0." % json.dumps(name))
        if len({str(name).lower() for name in models}) != len(models):
            errors.append("ollama_models names a model twice: %s." % ", ".join(str(name) for name in models))
    errors += _port_errors(s, count)
    gpus_each = s["gpus_per_replica"]
    if s["profile"] == "gpu" and s["gpu_ids"] and len(s["gpu_ids"]) < count * gpus_each:
        errors.append("ollama_gpu_ids lists %d GPUs, but %d replicas (ollama_replicas) x %s (ollama_gpus_per_replica) "
                      "need %d: list more GPUs or lower ollama_replicas."
                      % (len(s["gpu_ids"]), count, raw["gpus_per_replica"], count * gpus_each))
    if gpus_each < 1:
        errors.append("ollama_gpus_per_replica must be 1 or more (got %s)." % (raw["gpus_per_replica"],))
    if s["cpus"] and len(s["cpus"]) < count:
        errors.append("ollama_cpus lists %d CPUs for %d replicas (ollama_replicas): each replica needs at least one."
                      % (len(s["cpus"]), count))
    for key, default in TIMEOUTS.items():
        if s[key] < 1:
            errors.append("ollama_%s is %s: it is a wait in seconds and must be 1 or more (%d by default)."
                          % (key, raw[key], default))
    if s["healthcheck_command"] == []:
        errors.append("ollama_healthcheck_command is empty: use [CMD, ollama, list] for the ollama/ollama image.")
    if s["profile"] not in PROFILES:
        late.append("ollama_profile %r is not one of %s" % (s["profile"], ", ".join(PROFILES)))
    if s["advertise_host"] is not None and is_wildcard(s["advertise_host"]):
        late.append("ollama_advertise_host %r is a wildcard address, which no client can reach: set it to the "
                    "host's own address or name, or leave it unset" % (s["advertise_host"],))
    return s, errors + late


def _port_errors(s: Settings, count: int) -> list[str]:
    errors: list[str] = []
    ports, webui = s["ports"], s["webui_enabled"]
    if ports and len(ports) != count:
        errors.append("ollama_ports has %d ports for %d replicas (ollama_replicas): give one port per replica, or "
                      "leave it empty and set ollama_port." % (len(ports), count))
    if ports:
        replica_ports = list(ports)
    elif s["port"] is not None:
        replica_ports = host_ports(s["port"], None, max(count, 1))
    else:
        replica_ports = []
    all_ports = replica_ports + ([s["webui_port"]] if webui and s["webui_port"] is not None else [])
    for port in [p for p in all_ports if p < 1] + [p for p in all_ports if p > 65535]:
        errors.append("%s: port %d is out of range 1-65535%s%s." % (
            "ollama_ports" if ports else "ollama_port", port, "" if ports else " (ollama_port + replica index)",
            " or ollama_webui_port" if webui else ""))
    if len(set(all_ports)) != len(all_ports):
        errors.append("ollama_ports: port used twice among %s (the replicas' ports%s)." % (
            ", ".join(str(p) for p in all_ports), " and ollama_webui_port" if webui else ""))
    return errors


def _read(raw: Settings) -> tuple[Settings, list[str]]:
    """The settings converted; a setting that cannot be read is reported and then treated as unset."""
    s: Settings = dict(raw)
    errors: list[str] = []

    def read(key: str, convert: Callable[[Any], Any], expected: str, fallback: Any = None) -> None:
        if s[key] is None:
            return
        try:
            s[key] = convert(s[key])
        except (TypeError, ValueError):
            errors.append("ollama_%s must be %s, not %r" % (key, expected, s[key]))
            s[key] = fallback

    # Read as the preflight always read them: a count or a wait that is not a number is too small, and said so.
    for key in ("replicas", "gpus_per_replica") + tuple(TIMEOUTS):
        s[key] = _int_or_zero(s[key])
    for key in ("port", "webui_port", "healthcheck_start_period"):
        read(key, as_int, "a whole number")
    for key in ("volume_per_replica", "webui_enabled", "flash_attention"):
        read(key, as_bool, "true or false", DEFAULTS[key])
    read("models", as_list, "a list of model names such as [bge-m3]")
    read("ports", lambda v: [as_int(p) for p in as_list(v)], "a list of port numbers")
    read("gpu_ids", gpu_ids, "a list of GPU ids")
    read("cpus", cpu_ids, "a list of CPU ids such as [0, 1] or a cpuset such as \"0-7\"")
    read("extra_env", as_dict, "a dict of variable names to values", {})
    read("healthcheck_command", lambda v: [as_str(a) for a in as_list(v)],
         "a list of strings such as [CMD, ollama, list]")
    for key in ("bind_address", "container_prefix", "models_volume", "profile"):
        read(key, as_str, "a string", DEFAULTS[key])
    if s["healthcheck_start_period"] is None:
        s["healthcheck_start_period"] = DEFAULTS["healthcheck_start_period"]
    return s, errors


def _int_or_zero(value: Any) -> int:
    try:
        return as_int(value)
    except (TypeError, ValueError):
        return 0
