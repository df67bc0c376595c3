#!/usr/bin/env python3
"""Render packaging/grafana/vipd-dashboard.json's panels to one PNG from a Prometheus server —
evidence of what the dashboard shows, without Grafana (Debian has none).

    tools/render-dashboard.py --url http://127.0.0.1:9090 --start UNIX --end UNIX --out FILE.png
        [--netns NS]         # query through `ip netns exec NS curl` (Prometheus inside a lab node)
        [--dashboard FILE]   # default packaging/grafana/vipd-dashboard.json

Each panel's targets are evaluated with /api/v1/query_range over [start, end] (template variables
= All, $__rate_interval = 4 x the step or 10 s at least), and drawn as one subplot: time series as
lines, state timelines as steps with their value mappings on the y axis, stat panels as lines.
Needs python3-matplotlib (apt-get install -y python3-matplotlib); only this tool uses it."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def fetch(url: str, params: dict, netns: str | None) -> dict:
    full = url.rstrip("/") + "/api/v1/query_range?" + urllib.parse.urlencode(params)
    if netns:
        r = subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "-m", "10", full],
                           capture_output=True, text=True, timeout=20)
        return json.loads(r.stdout or "{}")
    with urllib.request.urlopen(full, timeout=10) as f:
        return json.load(f)


def substitute(expr: str, rate_interval: str) -> str:
    for k, v in (("$__rate_interval", rate_interval), ("$job", ".*"), ("$node", ".*"),
                 ("$instance", ".*")):
        expr = expr.replace(k, v)
    return expr


def legend(fmt: str, labels: dict) -> str:
    out = fmt
    for k, v in labels.items():
        out = out.replace("{{" + k + "}}", v)
    return out.replace("{{", "").replace("}}", "").strip() or json.dumps(labels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--end", type=float, required=True)
    ap.add_argument("--out", default="/tmp/vipd-dashboard.png")
    ap.add_argument("--netns")
    ap.add_argument("--dashboard", default=str(REPO / "packaging/grafana/vipd-dashboard.json"))
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        # Debian's python3-matplotlib lives in the system interpreter; a python3 first on PATH
        # (pyenv, venv) does not see it: re-run there.
        system = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(system) and os.path.exists(system):
            os.execv(system, [system, *sys.argv])
        print("render-dashboard: needs python3-matplotlib (apt-get install -y python3-matplotlib)",
              file=sys.stderr)
        return 2
    dash = json.loads(Path(args.dashboard).read_text())
    panels = dash["panels"]
    span = args.end - args.start
    step = max(0.5, round(span / 400, 1))
    rate_interval = f"{max(10, int(4 * step))}s"
    cols = 2
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(16, 3.0 * rows), squeeze=False)
    fig.suptitle(f"{dash['title']} — rendered from Prometheus, {span:.0f} s, step {step} s, "
                 f"$__rate_interval={rate_interval}", fontsize=12)
    empty = []
    for idx, p in enumerate(panels):
        ax = axes[idx // cols][idx % cols]
        ax.set_title(p["title"], fontsize=10)
        mappings = {}
        for m in p.get("fieldConfig", {}).get("defaults", {}).get("mappings", []):
            for k, v in m.get("options", {}).items():
                mappings[float(k)] = v.get("text", k)
        n_series = 0
        for t in p.get("targets", []):
            res = fetch(args.url, {"query": substitute(t["expr"], rate_interval),
                                   "start": args.start, "end": args.end, "step": step}, args.netns)
            for s in res.get("data", {}).get("result", []):
                xs = [float(v[0]) - args.start for v in s["values"]]
                ys = [float(v[1]) for v in s["values"]]
                label = legend(t.get("legendFormat", ""), s["metric"])
                if p["type"] == "state-timeline":
                    ax.step(xs, ys, where="post", label=label, linewidth=1.5)
                else:
                    ax.plot(xs, ys, label=label, linewidth=1.2)
                n_series += 1
        if mappings:
            ax.set_yticks(sorted(mappings))
            ax.set_yticklabels([mappings[k] for k in sorted(mappings)], fontsize=7)
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit == "s":
            ax.set_ylabel("seconds", fontsize=8)
        ax.set_xlim(0, span)
        ax.set_xlabel("seconds since start", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if n_series:
            ax.legend(fontsize=6, loc="upper left", ncol=2 if n_series > 4 else 1)
        else:
            empty.append(p["title"])
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    for idx in range(len(panels), rows * cols):
        axes[idx // cols][idx % cols].axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(args.out, dpi=80)
    print(f"render-dashboard: {len(panels)} panels -> {args.out}"
          + (f"; panels without data: {empty}" if empty else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
