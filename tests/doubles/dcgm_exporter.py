"""A test double of NVIDIA's DCGM exporter (dcgm-exporter): no GPU here, so nothing real can report one.

It answers GET /metrics in Prometheus' text format with the series and labels the exporter's documentation shows for
its default counters that the monitoring role's GPU rules read: DCGM_FI_DEV_GPU_UTIL (gauge, percent),
DCGM_FI_DEV_FB_USED and DCGM_FI_DEV_FB_FREE (gauges, MiB), each per GPU with the labels gpu, UUID, pci_bus_id,
device, modelName, Hostname and DCGM_FI_DRIVER_VERSION, plus DCGM_FI_DEV_GPU_TEMP. Two GPUs; the first busy, its
utilisation moving with the clock so a rate or a panel sees a live series, the second idle.

In a test: running(local_server(DcgmHandler)). In molecule/gateway, as a process of its own for Prometheus to scrape:
    python3 -m doubles.dcgm_exporter --listen 127.0.0.1:19400     (from tests/)
"""

import argparse
import math
import time
from http.server import ThreadingHTTPServer

from doubles.server_thread import QuietHandler

DRIVER = "570.133.20"
MODEL = "NVIDIA H100 80GB HBM3"
TOTAL_MIB = 81559  # an H100 80GB's frame buffer as DCGM counts it, used + free
GPUS = [("0", "GPU-0d1f5b7e-1c39-4a52-9f21-6a3c2e0b0001", "00000000:1B:00.0"),
        ("1", "GPU-0d1f5b7e-1c39-4a52-9f21-6a3c2e0b0002", "00000000:43:00.0")]
HELP = [("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C)."),
        ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."),
        ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB)."),
        ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).")]


def readings(now, hostname):
    """{metric: [(labels, value)]} at time `now`: GPU 0 serving (utilisation 30-70 %, 20 GiB used), GPU 1 idle."""
    busy = 50 + 20 * math.sin(now / 30)
    values = {"0": {"DCGM_FI_DEV_GPU_TEMP": 51, "DCGM_FI_DEV_GPU_UTIL": round(busy), "DCGM_FI_DEV_FB_USED": 20480},
              "1": {"DCGM_FI_DEV_GPU_TEMP": 33, "DCGM_FI_DEV_GPU_UTIL": 0, "DCGM_FI_DEV_FB_USED": 0}}
    out = {}
    for index, uuid, bus in GPUS:
        labels = {"gpu": index, "UUID": uuid, "pci_bus_id": bus, "device": "nvidia" + index, "modelName": MODEL,
                  "Hostname": hostname, "DCGM_FI_DRIVER_VERSION": DRIVER}
        gpu = dict(values[index], DCGM_FI_DEV_FB_FREE=TOTAL_MIB - values[index]["DCGM_FI_DEV_FB_USED"])
        for metric, _help in HELP:
            out.setdefault(metric, []).append((labels, gpu[metric]))
    return out


def exposition(now, hostname="gpu-double"):
    """The /metrics body, as dcgm-exporter writes it: HELP and TYPE, then one line per GPU."""
    lines = []
    series = readings(now, hostname)
    for metric, text in HELP:
        lines += ["# HELP %s %s" % (metric, text), "# TYPE %s gauge" % metric]
        for labels, value in series[metric]:
            lines.append("%s{%s} %s" % (metric, ",".join('%s="%s"' % item for item in labels.items()), value))
    return ("\n".join(lines) + "\n").encode()


class DcgmHandler(QuietHandler):
    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != "/metrics":
            self.send(404, b"404 page not found\n")
            return
        self.send(200, exposition(time.time()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9400", help="host:port, as dcgm-exporter's DCGM_EXPORTER_LISTEN")
    host, port = parser.parse_args().listen.rsplit(":", 1)
    ThreadingHTTPServer((host, int(port)), DcgmHandler).serve_forever()


if __name__ == "__main__":
    main()
