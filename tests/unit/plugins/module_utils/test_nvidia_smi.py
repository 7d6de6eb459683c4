"""nvidia_smi parsing on recorded outputs of several GPU kinds, drivers and failures."""

from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import nvidia_smi as ns

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nvidia_smi"


def fixture(name):
    return (FIXTURES / name).read_text()


def test_query_command_asks_for_every_field_without_units():
    assert ns.query_command("nvidia-smi") == [
        "nvidia-smi",
        "--query-gpu=index,uuid,name,memory.total,memory.free,driver_version,compute_cap,mig.mode.current",
        "--format=csv,noheader,nounits",
    ]


def test_h100_node_with_eight_gpus():
    facts = ns.gpu_facts(0, fixture("h100_x8.csv"), "", fixture("h100_header.txt"))
    assert facts["count"] == 8 and facts["reason"] is None
    assert facts["driver_version"] == "550.54.15" and facts["cuda_version"] == "12.4"
    assert facts["gpus"][0] == {
        "index": 0, "uuid": "GPU-8f6e1c2a-4b7d-11ee-9a3c-0242ac120002", "name": "NVIDIA H100 80GB HBM3",
        "memory_total_mib": 81559, "memory_free_mib": 81004, "compute_capability": "9.0", "mig_mode": "Disabled",
    }
    assert [gpu["index"] for gpu in facts["gpus"]] == list(range(8))
    assert facts["gpus"][3]["memory_free_mib"] == 12407  # a busy GPU still counts


def test_a10g_without_mig_reads_na_as_none():
    gpus, driver = ns.parse_query(fixture("a10g.csv"))
    assert driver == "535.183.01"
    assert gpus == [{
        "index": 0, "uuid": "GPU-d0b3a1f4-2c6e-8e5b-7a41-9f3c2b1a0e77", "name": "NVIDIA A10G",
        "memory_total_mib": 23028, "memory_free_mib": 22563, "compute_capability": "8.6", "mig_mode": None,
    }]
    assert ns.parse_cuda_version(fixture("a10g_header.txt")) == "12.2"


def test_mixed_rtx4090_and_t4():
    facts = ns.gpu_facts(0, fixture("rtx4090_t4_mixed.csv"), "", fixture("rtx4090_header.txt"))
    assert [(g["name"], g["memory_total_mib"], g["compute_capability"]) for g in facts["gpus"]] == [
        ("NVIDIA GeForce RTX 4090", 24564, "8.9"), ("Tesla T4", 15360, "7.5"),
    ]
    assert facts["cuda_version"] == "12.6"


def test_t4_box_and_missing_header_leaves_cuda_unknown():
    facts = ns.gpu_facts(0, fixture("t4_x4.csv"), "", "")
    assert facts["count"] == 4 and facts["driver_version"] == "470.182.03" and facts["cuda_version"] is None
    assert {g["compute_capability"] for g in facts["gpus"]} == {"7.5"}


def test_mig_enabled_on_one_of_two_a100():
    gpus = ns.parse_query(fixture("a100_mig.csv"))[0]
    assert [g["mig_mode"] for g in gpus] == ["Enabled", "Disabled"]
    assert gpus[0]["memory_total_mib"] == 81920


def test_memory_fields_na_become_none():
    gpus = ns.parse_query(fixture("na_memory.csv"))[0]
    assert gpus[0]["memory_total_mib"] is None and gpus[0]["memory_free_mib"] is None
    assert gpus[0]["compute_capability"] == "9.0"


def test_old_driver_refuses_compute_cap_and_answers_without_it():
    assert ns.unsupported_field(fixture("old_driver_compute_cap.txt")) == "compute_cap"
    assert ns.unsupported_field(fixture("h100_x8.csv")) is None
    fields = [f for f in ns.QUERY_FIELDS if f != "compute_cap"]
    facts = ns.gpu_facts(0, fixture("v100_old_driver.csv"), "", "", fields)
    assert facts["count"] == 1
    assert facts["gpus"][0]["compute_capability"] is None
    assert facts["gpus"][0]["mig_mode"] is None and facts["gpus"][0]["memory_total_mib"] == 16160


@pytest.mark.parametrize("name, rc, words", [
    ("driver_failed.txt", 9, "couldn't communicate with the NVIDIA driver"),
    ("no_devices.txt", 6, "No devices were found"),
    ("version_mismatch.txt", 18, "Driver/library version mismatch"),
])
def test_driver_problems_are_zero_gpus_with_the_message(name, rc, words):
    facts = ns.gpu_facts(rc, fixture(name), "")
    assert facts["count"] == 0 and facts["gpus"] == []
    assert words in facts["reason"] and facts["reason"].startswith("nvidia-smi found no usable GPU: ")


def test_driver_problem_on_stderr_too():
    facts = ns.gpu_facts(9, "", fixture("driver_failed.txt"))
    assert facts["count"] == 0 and "NVIDIA driver" in facts["reason"]


def test_empty_output_is_zero_gpus():
    facts = ns.gpu_facts(0, "\n", "")
    assert facts["count"] == 0 and facts["reason"] == "nvidia-smi ran but listed no GPU"


def test_unknown_failure_is_an_error_quoting_the_output():
    with pytest.raises(ns.NvidiaSmiError, match=r"exit code 255\): Segmentation fault"):
        ns.gpu_facts(255, "", "Segmentation fault\n")


def test_wrong_field_count_is_an_error_quoting_the_line():
    with pytest.raises(ns.NvidiaSmiError, match="7 fields where 8"):
        ns.parse_query(fixture("v100_old_driver.csv"))


def test_non_number_memory_is_an_error():
    with pytest.raises(ns.NvidiaSmiError, match="memory.total, not a number"):
        ns.parse_query("0, GPU-x, Tesla T4, lots, 100, 470.1, 7.5, [N/A]\n")


def test_cuda_version_forms():
    assert ns.parse_cuda_version("| NVIDIA-SMI 580.65.06  Driver Version: 580.65.06  CUDA Version: 13.0  |") == "13.0"
    assert ns.parse_cuda_version("CUDA Version                              : 12.4") == "12.4"  # nvidia-smi -q
    assert ns.parse_cuda_version("CUDA Version: N/A") is None


@pytest.mark.parametrize("text", ["inf", "-inf", "1e400", "nan"])
def test_infinite_memory_is_an_error_naming_the_field(text):
    with pytest.raises(ns.NvidiaSmiError, match="for memory.total, not a"):
        ns.parse_query("0, GPU-x, Tesla T4, %s, 100, 470.1, 7.5, [N/A]\n" % text)
