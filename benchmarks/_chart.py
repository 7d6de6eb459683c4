"""The latency chart of the benchmark tools (matplotlib): only benchmarks/ draws, so it lives here, not in
the collection's module_utils, which managed hosts import."""

from __future__ import annotations


def latency_chart(reports, path, title="Latency against load"):
    """A PNG of p50/p99 latency against load (matplotlib, Agg backend), one line per endpoint.

    Closed-loop runs are drawn against concurrency, open-loop runs against the offered rate, each in
    its own panel; every point is labelled with the throughput achieved.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    modes = [m for m in ("closed", "open") if any(r["mode"] == m for r in reports)] or ["closed"]
    fig, axes = plt.subplots(1, len(modes), figsize=(7 * len(modes), 5.5), squeeze=False)
    for ax, mode in zip(axes[0], modes):
        load_key = "concurrency" if mode == "closed" else "rate"
        names = list(dict.fromkeys(r["name"] for r in reports if r["mode"] == mode))
        for name in names:
            group = [r for r in reports
                     if r["mode"] == mode and r["name"] == name and r["latency_ms"]["p50"] is not None]
            group.sort(key=lambda r: r[load_key])
            if not group:
                continue
            xs = [r[load_key] for r in group]
            for key, style in (("p50", "-o"), ("p99", "--^")):
                ax.plot(xs, [r["latency_ms"][key] for r in group], style, label="%s %s" % (name, key))
            for r in group:
                ax.annotate("%.4g req/s" % r["qps"], (r[load_key], r["latency_ms"]["p99"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=8)
        if mode == "closed":
            ax.set_xlabel("requests in flight (closed loop)")
            ax.set_title("closed loop: latency from the actual send time")
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        else:
            ax.set_xlabel("offered rate, requests/s (open loop)")
            ax.set_title("open loop: latency from the intended send time")
        ax.set_ylabel("latency (ms)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
