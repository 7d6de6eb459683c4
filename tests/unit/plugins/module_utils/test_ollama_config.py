"""Ollama's replica plan and its refusals (plugins/module_utils/ollama_config.py), against the role that uses them."""

import json
import os

import pytest
import yaml
from ansible_collections.embedops.embeddings.plugins.module_utils import ollama_config
from ansible_collections.embedops.embeddings.plugins.module_utils.ollama_config import (
    CONTAINER_PORT,
    config_errors,
    plan_replicas,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import plan_replicas as vllm_plan

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
BASE = {"models": ["bge-m3"]}


def plan(**settings):
    return plan_replicas(dict(BASE, **settings))


def errors(**settings):
    return config_errors(dict(BASE, **settings))


# ---- the plan -----------------------------------------------------------------------------------------------------
def test_one_replica_on_loopback_with_the_defaults():
    (replica,) = plan()
    assert replica == {
        "index": 0,
        "name": "embedops-ollama-0",
        "port": 11434,
        "container_port": 11434,
        "published_ports": ["127.0.0.1:11434:11434"],
        "api_base": "http://127.0.0.1:11434",
        "url": "http://127.0.0.1:11434/v1",
        "container_address": "embedops-ollama-0:11434",
        "published_address": "127.0.0.1:11434",
        "volume": "embedops-ollama-models",
        "pulls": True,
        "env": {},
        "device_requests": [],
        "cpuset_cpus": "",
        "mounts": [{"type": "volume", "source": "embedops-ollama-models", "target": "/root/.ollama"}],
        "healthcheck": {"test": ["CMD", "ollama", "list"], "interval": "10s", "timeout": "5s", "retries": 3,
                        "start_period": "30s"},
        "labels": {"io.embedops.role": "ollama", "io.embedops.replica": "0"},
    }


def test_ports_from_the_base_port_or_the_explicit_list():
    assert [r["port"] for r in plan(replicas=3, port=21434)] == [21434, 21435, 21436]
    replicas = plan(replicas=2, ports=["30001", 30005], container_prefix="emb")
    assert [(r["name"], r["port"]) for r in replicas] == [("emb-0", 30001), ("emb-1", 30005)]
    assert [r["published_ports"] for r in replicas] == [["127.0.0.1:30001:11434"], ["127.0.0.1:30005:11434"]]
    assert [r["container_address"] for r in replicas] == ["emb-0:%d" % CONTAINER_PORT, "emb-1:%d" % CONTAINER_PORT]


def test_a_shared_store_has_one_writer_and_the_others_never_prune():
    first, second, third = plan(replicas=3, models_volume="store", extra_env={"OLLAMA_NOPRUNE": "0"})
    assert [r["volume"] for r in (first, second, third)] == ["store"] * 3
    assert [r["pulls"] for r in (first, second, third)] == [True, False, False]
    assert first["env"]["OLLAMA_NOPRUNE"] == "0"
    assert second["env"]["OLLAMA_NOPRUNE"] == third["env"]["OLLAMA_NOPRUNE"] == "1"
    assert {m["source"] for r in (first, second, third) for m in r["mounts"]} == {"store"}


def test_a_volume_per_replica_and_every_replica_pulls():
    replicas = plan(replicas=2, models_volume="store", volume_per_replica="yes")
    assert [r["volume"] for r in replicas] == ["store-0", "store-1"]
    assert [r["mounts"][0]["source"] for r in replicas] == ["store-0", "store-1"]
    assert [r["pulls"] for r in replicas] == [True, True]
    assert all("OLLAMA_NOPRUNE" not in r["env"] for r in replicas)


def test_the_environment_in_order_as_strings_with_extra_env_last():
    (replica,) = plan(keep_alive="-1m", max_loaded_models=2, max_queue=64, context_length=8192,
                      flash_attention="true", num_parallel=4, https_proxy="http://proxy:3128", no_proxy="localhost",
                      extra_env={"OLLAMA_DEBUG": 1, "OLLAMA_KEEP_ALIVE": "5m"})
    assert list(replica["env"].items()) == [
        ("OLLAMA_KEEP_ALIVE", "5m"), ("OLLAMA_MAX_LOADED_MODELS", "2"), ("OLLAMA_MAX_QUEUE", "64"),
        ("OLLAMA_CONTEXT_LENGTH", "8192"), ("OLLAMA_FLASH_ATTENTION", "1"), ("OLLAMA_NUM_PARALLEL", "4"),
        ("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", "localhost"), ("OLLAMA_DEBUG", "1")]
    (off,) = plan(flash_attention=False, keep_alive="", https_proxy="", max_queue=None)
    assert off["env"] == {"OLLAMA_FLASH_ATTENTION": "0"}


def test_gpus_pinned_in_groups_or_all_gpus_and_none_on_cpu():
    first, second = plan(profile="gpu", replicas=2, gpu_ids=[0, 1, 2, 3], gpus_per_replica=2)
    assert first["device_requests"] == [{"driver": "nvidia", "device_ids": ["0", "1"], "capabilities": [["gpu"]]}]
    assert second["device_requests"][0]["device_ids"] == ["2", "3"]
    assert [r["device_requests"][0]["device_ids"] for r in plan(profile="gpu", replicas=2, gpu_ids="4,5")] == [
        ["4"], ["5"]]
    (every,) = plan(profile="gpu")
    assert every["device_requests"] == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
    (cpu,) = plan(gpu_ids=["0"])
    assert cpu["device_requests"] == []


def test_cpus_split_evenly_as_cpusets_on_either_profile():
    assert [r["cpuset_cpus"] for r in plan(replicas=2, cpus=[0, 1, 2, 3])] == ["0-1", "2-3"]
    assert [r["cpuset_cpus"] for r in plan(replicas=2, cpus=[0, 1, 2, 3, 4])] == ["0-2", "3-4"]
    assert [r["cpuset_cpus"] for r in plan(replicas=2, cpus="0-1,8-9", profile="gpu")] == ["0-1", "8-9"]
    assert [r["cpuset_cpus"] for r in plan(replicas=3, cpus=[0, 2, 4])] == ["0", "2", "4"]


@pytest.mark.parametrize("bind, advertise, published, api_base, url", [
    ("0.0.0.0", "10.0.0.5", "0.0.0.0:11434:11434", "http://127.0.0.1:11434", "http://10.0.0.5:11434/v1"),
    ("0.0.0.0", None, "0.0.0.0:11434:11434", "http://127.0.0.1:11434", "http://127.0.0.1:11434/v1"),
    ("::", "fd00::5", "[::]:11434:11434", "http://[::1]:11434", "http://[fd00::5]:11434/v1"),
    ("::1", "", "[::1]:11434:11434", "http://[::1]:11434", "http://[::1]:11434/v1"),
    ("10.0.0.5", "embed.example.org", "10.0.0.5:11434:11434", "http://10.0.0.5:11434", "http://embed.example.org:11434/v1"),
])
def test_addresses_for_ipv4_ipv6_and_wildcards(bind, advertise, published, api_base, url):
    (replica,) = plan(bind_address=bind, advertise_host=advertise)
    assert (replica["published_ports"], replica["api_base"], replica["url"]) == ([published], api_base, url)
    assert replica["published_address"] == url.split("//", 1)[1].rsplit("/", 1)[0]


def test_healthcheck_labels_and_values_made_strings():
    first, second = plan(replicas=2, healthcheck_command=["CMD-SHELL", "ollama ps"], healthcheck_start_period="45")
    assert first["healthcheck"]["test"] == ["CMD-SHELL", "ollama ps"]
    assert first["healthcheck"]["start_period"] == "45s"
    assert second["labels"] == {"io.embedops.role": "ollama", "io.embedops.replica": "1"}


def test_ports_names_and_addresses_are_planned_as_vllm_plans_them():
    common = {"replicas": 2, "ports": [9001, 9005], "bind_address": "::", "advertise_host": "fd00::5",
              "container_prefix": "svc"}
    ollama = plan_replicas(dict(BASE, **common))
    vllm = vllm_plan(dict(common, model="BAAI/bge-m3", version="0.32.0", gpu_ids=["0", "1"]))
    keys = ("index", "name", "port", "url", "published_address")
    assert [{k: r[k] for k in keys} for r in ollama] == [{k: r[k] for k in keys} for r in vllm]
    assert [r["published_ports"][0].rsplit(":", 1)[0] for r in ollama] == [
        r["published_ports"][0].rsplit(":", 1)[0] for r in vllm]
    assert vllm[0]["container_port"] == 8000 and ollama[0]["container_port"] == CONTAINER_PORT


def test_empty_values_are_unset():
    assert plan(ports=[], gpu_ids=[], cpus=[], extra_env={}, advertise_host="", keep_alive=None) == plan()


# ---- the refusals ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, message", [
    ({"replicas": 0}, "ollama_replicas must be 1 or more (got 0)."),
    ({"replicas": "many"}, "ollama_replicas must be 1 or more (got many)."),
    ({"models": []}, "ollama_models is empty: name at least one model to serve, for example [bge-m3]."),
    ({"models": None}, "ollama_models is empty: name at least one model to serve, for example [bge-m3]."),
    ({"models": ["https://ollama.com/library/bge-m3"]},
     'ollama_models: "https://ollama.com/library/bge-m3" is not a valid Ollama model name: write it as '
     "[registry/][namespace/]model[:tag], for example bge-m3, all-minilm:22m or myteam/bge-m3:q8_0."),
    ({"models": ["bge-m3", "BGE-M3"]}, "ollama_models names a model twice: bge-m3, BGE-M3."),
    ({"replicas": 2, "ports": [30000]},
     "ollama_ports has 1 ports for 2 replicas (ollama_replicas): give one port per replica, or leave it empty and "
     "set ollama_port."),
    ({"replicas": 2, "port": 65535},
     "ollama_port: port 65536 is out of range 1-65535 (ollama_port + replica index)."),
    ({"replicas": 2, "ports": [11434, 11434]},
     "ollama_ports: port used twice among 11434, 11434 (the replicas' ports)."),
    ({"port": 21434, "replicas": 2, "webui_enabled": True, "webui_port": 21435},
     "ollama_ports: port used twice among 21434, 21435, 21435 (the replicas' ports and ollama_webui_port)."),
    ({"profile": "gpu", "replicas": 2, "gpu_ids": ["0"]},
     "ollama_gpu_ids lists 1 GPUs, but 2 replicas (ollama_replicas) x 1 (ollama_gpus_per_replica) need 2: list more "
     "GPUs or lower ollama_replicas."),
    ({"gpus_per_replica": 0}, "ollama_gpus_per_replica must be 1 or more (got 0)."),
    ({"replicas": 2, "cpus": [0]},
     "ollama_cpus lists 1 CPUs for 2 replicas (ollama_replicas): each replica needs at least one."),
    ({"ready_timeout": 0},
     "ollama_ready_timeout is 0: it is a wait in seconds and must be 1 or more (120 by default)."),
    ({"pull_timeout": -1},
     "ollama_pull_timeout is -1: it is a wait in seconds and must be 1 or more (600 by default)."),
    ({"healthcheck_command": []}, "ollama_healthcheck_command is empty: use [CMD, ollama, list] for the ollama/ollama "
                                  "image."),
    ({"profile": "tpu"}, "ollama_profile 'tpu' is not one of cpu, gpu"),
    ({"advertise_host": "0.0.0.0"}, "ollama_advertise_host '0.0.0.0' is a wildcard address, which no client can "
                                    "reach: set it to the host's own address or name, or leave it unset"),
    ({"num_paralel": 4}, "unknown settings ollama_num_paralel: check the variable names"),
    ({"port": "http"}, "ollama_port must be a whole number, not 'http'"),
    ({"ports": "11434"}, "ollama_ports must be a list of port numbers, not '11434'"),
    ({"models": "bge-m3"}, "ollama_models must be a list of model names such as [bge-m3], not 'bge-m3'"),
    ({"cpus": ["zero"]}, "ollama_cpus must be a list of CPU ids such as [0, 1] or a cpuset such as \"0-7\", "
                         "not ['zero']"),
    ({"extra_env": ["A=1"]}, "ollama_extra_env must be a dict of variable names to values, not ['A=1']"),
    ({"flash_attention": "maybe"}, "ollama_flash_attention must be true or false, not 'maybe'"),
    ({"healthcheck_command": "ollama list"},
     "ollama_healthcheck_command must be a list of strings such as [CMD, ollama, list], not 'ollama list'"),
])
def test_each_refusal_names_its_variable_and_the_fix(settings, message):
    assert errors(**settings) == [message]
    with pytest.raises(ValueError, match="invalid Ollama settings"):
        plan(**settings)


def test_out_of_range_ports_name_the_list_and_open_webui():
    assert errors(ports=[0, 70000], replicas=2, webui_enabled=True, webui_port=3000) == [
        "ollama_ports: port 0 is out of range 1-65535 or ollama_webui_port.",
        "ollama_ports: port 70000 is out of range 1-65535 or ollama_webui_port."]
    assert errors(port=0, webui_enabled=True, webui_port=70000) == [
        "ollama_port: port 0 is out of range 1-65535 (ollama_port + replica index) or ollama_webui_port.",
        "ollama_port: port 70000 is out of range 1-65535 (ollama_port + replica index) or ollama_webui_port."]
    assert errors(webui_enabled=False, webui_port=11434) == []


def test_model_names_in_ollamas_grammar():
    good = ["bge-m3", "all-minilm:22m", "myteam/bge-m3:q8_0", "registry.example.com:5000/myteam/bge-m3:v1"]
    assert errors(models=good) == []
    bad = ["a b", "bge-m3\n", "ünï", "-x", "a/b/c/d", 7]
    found = errors(models=bad)
    expected = ["ollama_models: %s" % json.dumps(name) for name in bad]
    assert [message.split(" is not", 1)[0] for message in found] == expected


def test_every_error_at_once_in_the_preflights_order():
    found = config_errors({"models": [], "replicas": 0, "ports": [5, 5, 0], "gpus_per_replica": 0,
                           "pull_timeout": 0, "healthcheck_command": [], "typo": 1})
    assert [message.split()[0] for message in found] == [
        "ollama_replicas", "ollama_models", "ollama_ports", "ollama_ports:", "ollama_ports:",
        "ollama_gpus_per_replica", "ollama_pull_timeout", "ollama_healthcheck_command", "unknown"]
    assert config_errors(["bge-m3"]) == [
        "the Ollama settings must be a dict of ollama_* values without the prefix, not ['bge-m3']"]


# ---- the role builds what this reads --------------------------------------------------------------------------------
def role_vars():
    with open(os.path.join(ROOT, "roles", "ollama", "vars", "main.yml")) as handle:
        return yaml.safe_load(handle)


def test_the_role_passes_every_setting_and_no_other():
    assert sorted(role_vars()["_ollama_config"]) == sorted(ollama_config.DEFAULTS)


def test_switch_model_checks_names_with_the_same_expression():
    assert role_vars()["_ollama_model_name_re"].strip() == ollama_config.MODEL_NAME.pattern
