"""The DCGM exporter double (tests/doubles/dcgm_exporter.py) writes what Prometheus and the role's GPU rules read:
valid exposition format by Debian's real promtool, the documented metric names and labels per GPU, memory in MiB
that adds up, and a utilisation that moves."""

import subprocess
import urllib.error
import urllib.request

import pytest
from doubles.dcgm_exporter import TOTAL_MIB, DcgmHandler, exposition
from doubles.server_thread import local_server, running
from test_prometheus_rules import promtool

LABELS = {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}


def samples(body):
    """[(metric, {label: value}, value)] of an exposition body (no commas or quotes inside the values here)."""
    out = []
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            head, value = line.rsplit(" ", 1)
            metric, labels = head.split("{", 1)
            out.append((metric, dict(pair.split("=", 1) for pair in labels.rstrip("}").split(",")), float(value)))
    return [(metric, {k: v.strip('"') for k, v in labels.items()}, value) for metric, labels, value in out]


def test_served_over_http_and_valid_for_promtool():
    with running(local_server(DcgmHandler)) as server:
        url = "http://127.0.0.1:%d" % server.server_address[1]
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            body, ctype = resp.read(), resp.headers["Content-Type"]
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "/other", timeout=5)
    assert ctype.startswith("text/plain; version=0.0.4")
    # promtool parses it (exit 1 would be a format error); its only remarks are the style lint's on the real
    # exporter's own label names (modelName, UUID), exit 3.
    lint = subprocess.run([promtool(), "check", "metrics"], input=body, capture_output=True, check=False)
    remarks = lint.stderr.decode().splitlines()
    assert lint.returncode == 3 and remarks, lint.stdout + lint.stderr
    assert all("label names should be written in 'snake_case'" in line for line in remarks), remarks


def test_each_gpu_has_the_documented_series_and_labels():
    found = samples(exposition(0.0, hostname="gpu7"))
    metrics = {metric for metric, _labels, _value in found}
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"} <= metrics
    assert all(set(labels) == LABELS and labels["Hostname"] == "gpu7" for _metric, labels, _value in found)
    by_gpu = {}
    for metric, labels, value in found:
        by_gpu.setdefault(labels["gpu"], {})[metric] = value
    assert sorted(by_gpu) == ["0", "1"]
    for gpu in by_gpu.values():
        assert gpu["DCGM_FI_DEV_FB_USED"] + gpu["DCGM_FI_DEV_FB_FREE"] == TOTAL_MIB
        assert 0 <= gpu["DCGM_FI_DEV_GPU_UTIL"] <= 100


def test_the_busy_gpu_s_utilisation_moves():
    utilisation = {value for moment in (0, 20, 40, 60)
                   for metric, labels, value in samples(exposition(moment))
                   if metric == "DCGM_FI_DEV_GPU_UTIL" and labels["gpu"] == "0"}
    assert len(utilisation) > 1
