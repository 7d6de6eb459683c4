# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nvidia-smi says about a host's GPUs, as plain data: the parsing behind the gpu_facts module.

Pure functions (stdlib only), so they are tested on recorded outputs without a GPU.

The query the module runs (one line per GPU, comma-separated, no header, no units):

  nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.free,driver_version,compute_cap,mig.mode.current
             --format=csv,noheader,nounits

  0, GPU-8f6e1c2a-..., NVIDIA H100 80GB HBM3, 81559, 81004, 550.54.15, 9.0, Disabled

Fields a GPU or driver does not report read "[N/A]" or "[Not Supported]" and become None. Drivers before
510 do not know the field compute_cap and refuse the whole query ('Field "compute_cap" is not a valid field
to query.'); unsupported_field() finds the field so the caller can ask again without it.
The CUDA version (the newest the driver supports) is not a --query-gpu field: it is read from the header
of plain `nvidia-smi` ("CUDA Version: 12.4").
"""

from __future__ import annotations

import csv
import math
import re
from typing import Any, Callable, Sequence

QUERY_FIELDS = (
    "index", "uuid", "name", "memory.total", "memory.free", "driver_version", "compute_cap", "mig.mode.current",
)
# Where nvidia-smi lives besides PATH: NVIDIA's container images, WSL 2.
EXTRA_DIRS = ["/usr/bin", "/usr/local/nvidia/bin", "/usr/lib/wsl/lib"]
# Values nvidia-smi prints for a field it cannot report.
_MISSING = ("", "[n/a]", "n/a", "[not supported]", "not supported", "[unknown error]", "[insufficient permissions]")
_CUDA = re.compile(r"CUDA Version\s*:\s*([0-9]+(?:\.[0-9]+)*)")
_UNSUPPORTED_FIELD = re.compile(r'Field "([^"]+)" is not a valid field to query')
# Messages that mean "there is a GPU stack, but no usable GPU right now": zero GPUs with the message as reason.
_DRIVER_PROBLEMS = (
    "couldn't communicate with the nvidia driver",
    "failed to initialize nvml",
    "no devices were found",
    "driver/library version mismatch",
    "unable to determine the device handle",
    "gpu access blocked",
)


class NvidiaSmiError(ValueError):
    """Output of nvidia-smi that cannot be read: the message quotes it."""


def query_command(binary: str, fields: Sequence[str] = QUERY_FIELDS) -> list[str]:
    """The argv of the GPU query."""
    return [binary, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]


def unsupported_field(output: str | None) -> str | None:
    """The field an older driver refused ('Field "compute_cap" is not a valid field to query.'), or None."""
    match = _UNSUPPORTED_FIELD.search(output or "")
    return match.group(1) if match else None


def driver_problem(output: str | None) -> str | None:
    """The first line of a known driver failure message in output, or None."""
    for line in (output or "").splitlines():
        text = line.strip()
        if any(problem in text.lower() for problem in _DRIVER_PROBLEMS):
            return text
    return None


def parse_cuda_version(header: str | None) -> str | None:
    """The CUDA version in the header of plain `nvidia-smi` output, or None."""
    match = _CUDA.search(header or "")
    return match.group(1) if match else None


def parse_query(output: str | None, fields: Sequence[str] = QUERY_FIELDS) -> tuple[list[dict[str, Any]], str | None]:
    """(gpus, driver_version) from the CSV of query_command(); gpus sorted by index.

    Each GPU: index (int), uuid, name, memory_total_mib and memory_free_mib (int MiB), compute_capability
    (str such as "8.6"), mig_mode ("Enabled"/"Disabled"), each None where nvidia-smi reported none.
    Raises NvidiaSmiError on a line with the wrong number of fields or a number that is not one.
    """
    gpus: list[dict[str, Any]] = []
    drivers: list[str] = []
    lines = [line for line in (output or "").splitlines() if line.strip()]
    for row in csv.reader(lines, skipinitialspace=True):
        if len(row) != len(fields):
            raise NvidiaSmiError(
                "nvidia-smi printed %d fields where %d were asked for (%s): %r"
                % (len(row), len(fields), ",".join(fields), ", ".join(row))
            )
        raw = {field: _value(text) for field, text in zip(fields, row)}
        gpu = {
            "index": _number(raw.get("index"), "index", row),
            "uuid": raw.get("uuid"),
            "name": raw.get("name"),
            "memory_total_mib": _number(raw.get("memory.total"), "memory.total", row),
            "memory_free_mib": _number(raw.get("memory.free"), "memory.free", row),
            "compute_capability": raw.get("compute_cap"),
            "mig_mode": raw.get("mig.mode.current"),
        }
        driver = raw.get("driver_version")
        if driver:
            drivers.append(driver)
        gpus.append(gpu)
    gpus.sort(key=lambda gpu: -1 if gpu["index"] is None else gpu["index"])
    return gpus, (drivers[0] if drivers else None)


def gpu_facts(
    query_rc: int, query_out: str | None, query_err: str | None = "", header_out: str | None = "",
    fields: Sequence[str] = QUERY_FIELDS,
) -> dict[str, Any]:
    """The facts for one run of the query (and of plain nvidia-smi for the header).

    Returns dict(gpus, count, driver_version, cuda_version, reason); reason is None when GPUs were found and
    says why there are none otherwise. A driver that cannot be reached is zero GPUs, not an error. Raises
    NvidiaSmiError for a failure or output this function does not recognise.
    """
    facts: dict[str, Any] = {"gpus": [], "count": 0, "driver_version": None, "cuda_version": None, "reason": None}
    both = "%s\n%s" % (query_out or "", query_err or "")
    problem = driver_problem(both)
    if query_rc != 0 or problem:
        if problem:
            facts["reason"] = "nvidia-smi found no usable GPU: %s" % problem
            return facts
        raise NvidiaSmiError(
            "nvidia-smi failed (exit code %s): %s" % (query_rc, " ".join(both.split()) or "no output")
        )
    gpus, driver = parse_query(query_out, fields)
    facts.update(gpus=gpus, count=len(gpus), driver_version=driver, cuda_version=parse_cuda_version(header_out))
    if not gpus:
        facts["reason"] = "nvidia-smi ran but listed no GPU"
    return facts


def _value(text: str) -> str | None:
    text = text.strip()
    return None if text.lower() in _MISSING else text


def _number(text: str | None, field: str, row: list[str]) -> int | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise NvidiaSmiError("nvidia-smi printed %r for %s, not a number: %r" % (text, field, ", ".join(row))) from None
    if not math.isfinite(value):  # "inf", "nan": no count of GPUs or MiB
        raise NvidiaSmiError(
            "nvidia-smi printed %r for %s, not a finite number: %r" % (text, field, ", ".join(row))
        )
    return int(value)


def read(run: Callable[[list[str]], tuple[int, str, str]], binary: str) -> dict[str, Any]:
    """The facts from one host's nvidia-smi, run through run(argv) -> (rc, stdout, stderr).

    Asks again without a field an older driver does not know (compute_cap before 510); the gpu_facts module and
    scripts/gpu-check.sh both read the GPUs this way.
    """
    fields = list(QUERY_FIELDS)
    while True:
        rc, out, err = run(query_command(binary, fields))
        field = unsupported_field(out + err)
        if rc == 0 or field not in fields or field in ("index", "memory.total"):
            break
        fields.remove(field)
    header = ""
    if rc == 0:
        header_rc, header, dummy = run([binary])
        if header_rc != 0:
            header = ""
    return gpu_facts(rc, out, err, header, fields)
