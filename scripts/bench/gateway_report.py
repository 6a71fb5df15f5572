#!/usr/bin/env python3
"""Summarise a scripts/bench/gateway.sh run: for every phase, the median over rounds of the
direct and the through-keyless figures, and their ratio (gateway / direct): throughput (higher
is better for keyless) and p50 / p99 latency (lower is better). Markdown on stdout.

    scripts/bench/gateway_report.py target/bench-results/gateway-<ts>
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def load(run: Path):
    """{(scenario, phase, concurrency): {"direct": [phase...], "gateway": [phase...]}}"""
    out: dict = defaultdict(lambda: defaultdict(list))
    for f in sorted(run.glob("*-*-*.json")):
        scenario, path, _round = f.stem.rsplit("-", 2)
        report = json.loads(f.read_text())
        for p in report["phases"]:
            out[(scenario, p["name"], p["concurrency"])][path].append(p)
    return out


def med(phases, key):
    vals = [key(p) for p in phases if p.get("errors", 0) == 0]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "—"


def main() -> int:
    run = Path(sys.argv[1])
    meta = json.loads((run / "meta.json").read_text())
    data = load(run)
    print(f"Upstream: {meta['upstream']} ({meta['upstream_version']}); keyless {meta['keyless']} at "
          f"{meta['commit']}; {meta['rounds']} round(s), medians; large objects {meta['large']} x "
          f"{meta['large_count']}; small objects 4 KiB for {meta['small_secs']} s per phase; "
          f"{meta['cores']} cores shared by client, keyless and upstream; started {meta['started']}.\n")
    print("| phase | direct | through keyless | gateway / direct | p50 ms direct → keyless | p99 ms direct → keyless |")
    print("|---|---|---|---|---|---|")
    errors = 0
    for (scenario, phase, conc) in sorted(data, key=lambda k: (k[0] != "large", k[0], k[2], k[1])):
        paths = data[(scenario, phase, conc)]
        errors += sum(p.get("errors", 0) for ps in paths.values() for p in ps)
        if scenario == "large":
            unit, key = "MB/s", (lambda p: p["mb_per_sec"])
        else:
            unit, key = "ops/s", (lambda p: p["ops_per_sec"])
        d, g = med(paths["direct"], key), med(paths["gateway"], key)
        lat = lambda ps, q: med(ps, lambda p: p["latency"][q])  # noqa: E731
        print(f"| {scenario} {phase.upper()} c={conc} | {fmt(d)} {unit} | {fmt(g)} {unit} | {ratio(g, d)} | "
              f"{fmt(lat(paths['direct'], 'p50_ms'), 2)} → {fmt(lat(paths['gateway'], 'p50_ms'), 2)} | "
              f"{fmt(lat(paths['direct'], 'p99_ms'), 2)} → {fmt(lat(paths['gateway'], 'p99_ms'), 2)} |")
    print(f"\nErrors in all phases: {errors}.")
    mem = [json.loads(f.read_text()).get("memory") for f in sorted(run.glob("large-gateway-*.json"))]
    mem = [m for m in mem if m]
    if mem:
        idle = min(m["idle_rss_kib"] for m in mem) / 1024
        peak = max(m["peak_rss_kib"] for m in mem) / 1024
        print(f"keyless's memory while large objects streamed through it: {idle:.1f} MiB RSS idle, "
              f"{peak:.1f} MiB at its peak (+{peak - idle:.1f} MiB; the bodies are never buffered whole).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
