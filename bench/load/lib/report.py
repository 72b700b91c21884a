#!/usr/bin/env python3
"""Turns the raw outputs of bench/load/run.sh into medians, ratios, a summary table and a JSON file.

usage: report.py RAW_DIR OUT_JSON [--reps N] [--duration S] [--targets "direct nginx keel portkey"] ...
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import statistics
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
TARGETS = {
    "added_p50_ms": 0.1,
    "added_p99_ms": 1.0,
    "throughput_vs_nginx": 0.5,
    "throughput_vs_portkey": 1.0,
    "stream_added_ttfb_ms": 0.5,
    "rss_mb": 200.0,
    "ready_ms": 1000.0,
}


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"cannot parse wrk duration '{text}'")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    text = open(path).read()
    out: dict = {"errors": 0, "non_2xx": 0}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if m:
            out[f"p{pct}_ms"] = parse_duration(m.group(1))
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    out["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] = sum(int(g) for g in m.groups())
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def rnd(v, digits=3):
    return None if v is None else round(v, digits)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--nginx-workers", default="2")
    ap.add_argument("--store-bodies", default="true")
    ap.add_argument("--portkey-status", default="")
    ap.add_argument("--targets", default="direct nginx keel portkey")
    ap.add_argument("--ttfb-n", type=int, default=200)
    ap.add_argument("--keel-rev", default="unknown")
    a = ap.parse_args()
    raw = a.raw
    targets = a.targets.split()
    reps = range(1, a.reps + 1)

    # ---- wrk runs
    runs: dict = {}
    for t in targets:
        runs[t] = {}
        for phase in ("c1", "c64"):
            per_rep = []
            for r in reps:
                w = parse_wrk(os.path.join(raw, f"{phase}-{t}-{r}.txt"))
                if w is None:
                    continue
                cpu_file = os.path.join(raw, f"cpu-{phase}-{t}-{r}.txt")
                if os.path.exists(cpu_file) and w.get("requests"):
                    ticks = int(open(cpu_file).read().strip() or 0)
                    w["server_cpu_us_per_req"] = ticks * (1e6 / os.sysconf("SC_CLK_TCK")) / w["requests"]
                # Keel: requests over the run plus the time its recorder took afterwards to write them
                # all. Without a drain file (other targets record nothing) the sustained rate is the rate.
                drain_file = os.path.join(raw, f"drain-{phase}-{t}-{r}.txt")
                w["drain_s"] = int(open(drain_file).read().strip() or 0) / 1000 if os.path.exists(drain_file) else 0.0
                if w.get("requests"):
                    w["sustained_rps"] = w["requests"] / (a.duration + w["drain_s"])
                per_rep.append(w)
            runs[t][phase] = per_rep

    def series(t, phase, key):
        return [w.get(key) for w in runs.get(t, {}).get(phase, [])]

    summary: dict = {"targets": {}}
    for t in targets:
        summary["targets"][t] = {
            "c1_p50_ms": rnd(med(series(t, "c1", "p50_ms")), 4),
            "c1_p99_ms": rnd(med(series(t, "c1", "p99_ms")), 4),
            "c1_rps": rnd(med(series(t, "c1", "rps")), 1),
            "c64_rps": rnd(med(series(t, "c64", "rps")), 1),
            "c64_sustained_rps": rnd(med(series(t, "c64", "sustained_rps")), 1),
            "c64_drain_s": rnd(med(series(t, "c64", "drain_s")), 2),
            "c64_p50_ms": rnd(med(series(t, "c64", "p50_ms")), 3),
            "c64_p99_ms": rnd(med(series(t, "c64", "p99_ms")), 3),
            "c64_server_cpu_us_per_req": rnd(med(series(t, "c64", "server_cpu_us_per_req")), 1),
            "errors": sum(w["errors"] + w["non_2xx"] for ph in ("c1", "c64") for w in runs[t][ph]),
        }

    # added latency and ratios: paired within each repetition (same minute of the same machine), then the median
    def paired(t, phase, key, op):
        a_ = series(t, phase, key)
        b_ = series("direct" if op == "sub" else op, phase, key)
        vals = []
        for x, y in zip(a_, b_):
            if x is None or y is None:
                continue
            vals.append(x - y if op == "sub" else (x / y if y else None))
        return vals

    added = {}
    for t in targets:
        if t == "direct":
            continue
        added[t] = {
            "p50_ms": rnd(med(paired(t, "c1", "p50_ms", "sub")), 4),
            "p99_ms": rnd(med(paired(t, "c1", "p99_ms", "sub")), 4),
            "p50_per_rep_ms": [rnd(v, 4) for v in paired(t, "c1", "p50_ms", "sub")],
            "p99_per_rep_ms": [rnd(v, 4) for v in paired(t, "c1", "p99_ms", "sub")],
        }
    summary["added_latency_c1"] = added
    ratios = {}
    if "keel" in targets and "nginx" in targets:
        v = paired("keel", "c64", "rps", "nginx")
        ratios["keel_vs_nginx"] = {"median": rnd(med(v)), "per_rep": [rnd(x) for x in v]}
        # The target: Keel's rate with every trace written (the drain after wrk stops counted), against
        # nginx's, which records nothing. keel_vs_nginx is the burst rate, the recorder's backlog left behind.
        v = paired("keel", "c64", "sustained_rps", "nginx")
        ratios["keel_sustained_vs_nginx"] = {"median": rnd(med(v)), "per_rep": [rnd(x) for x in v]}
    if "keel" in targets and "portkey" in targets:
        v = paired("keel", "c64", "sustained_rps", "portkey")
        ratios["keel_vs_portkey"] = {"median": rnd(med(v)), "per_rep": [rnd(x) for x in v]}
    if "nginx" in targets:
        v = paired("nginx", "c64", "rps", "direct")
        ratios["nginx_vs_direct"] = {"median": rnd(med(v)), "per_rep": [rnd(x) for x in v]}
    summary["throughput_ratios_c64"] = ratios

    # ---- streaming TTFB
    ttfb: dict = {"direct": [], "keel": []}
    bad_status = 0
    for t in ttfb:
        for r in reps:
            path = os.path.join(raw, f"ttfb-{t}-{r}.txt")
            if not os.path.exists(path):
                continue
            samples = []
            for line in open(path):
                code, secs = line.split()
                if code != "200":
                    bad_status += 1
                samples.append(float(secs) * 1000)
            ttfb[t].append(statistics.median(samples) if samples else None)
    ttfb_added = [k - d for k, d in zip(ttfb["keel"], ttfb["direct"]) if k is not None and d is not None]
    summary["stream_ttfb"] = {
        "direct_median_ms": rnd(med(ttfb["direct"]), 4),
        "keel_median_ms": rnd(med(ttfb["keel"]), 4),
        "added_ms": rnd(med(ttfb_added), 4),
        "added_per_rep_ms": [rnd(v, 4) for v in ttfb_added],
        "samples_per_rep": a.ttfb_n,
        "non_200": bad_status,
    }

    # ---- streaming relay (slow upstream)
    relay: dict = {}
    for t in ("direct", "keel"):
        lags, gaps, events = [], [], []
        for path in sorted(glob.glob(os.path.join(raw, f"relay-{t}-*.json"))):
            try:
                d = json.load(open(path))
            except ValueError:
                continue
            if "lag_ms" not in d:
                continue
            lags.extend(d["lag_ms"])
            gaps.extend(d["gaps_ms"])
            events.append(d["events"])
        if lags:
            relay[t] = {
                "requests": len(events),
                "events_per_request": events,
                "lag_median_ms": rnd(statistics.median(lags)),
                "lag_max_ms": rnd(max(lags)),
                "gap_median_ms": rnd(statistics.median(gaps)),
                "gap_min_ms": rnd(min(gaps)),
            }
    if "keel" in relay:
        # The upstream sleeps 50 ms between chunks: a buffering proxy would deliver them together
        # (gaps ~0, lag growing to ~500 ms); a relaying one keeps each lag small and each gap ~50 ms.
        relay["chunks_relayed_as_they_arrive"] = relay["keel"]["lag_max_ms"] < 25 and relay["keel"]["gap_min_ms"] > 25
    summary["stream_relay"] = relay

    # ---- ready, RSS
    ready = [float(x) for x in open(os.path.join(raw, "ready.txt")).read().split()] if os.path.exists(os.path.join(raw, "ready.txt")) else []
    summary["ready_ms"] = {"median": rnd(med(ready), 1), "samples": ready}
    rss_rows = []
    rss_path = os.path.join(raw, "keel-rss.txt")
    if os.path.exists(rss_path):
        for line in open(rss_path):
            label, rss, hwm = line.split()
            rss_rows.append({"after": label, "vmrss_mb": round(int(rss) / 1024, 1), "vmhwm_mb": round(int(hwm) / 1024, 1)})
    summary["keel_rss"] = {
        "rows": rss_rows,
        "peak_vmhwm_mb": max((r["vmhwm_mb"] for r in rss_rows), default=None),
        "last_vmrss_mb": rss_rows[-1]["vmrss_mb"] if rss_rows else None,
    }
    recorder_path = os.path.join(raw, "keel-recorder.txt")
    if os.path.exists(recorder_path):
        counters = dict(line.split() for line in open(recorder_path) if line.strip())
        written = int(float(counters.get("keel_recorder_written_total", 0)))
        dropped = int(float(counters.get("keel_recorder_dropped_total", 0)))
        summary["keel_recorder"] = {"written": written, "dropped": dropped,
                                    "dropped_pct": round(100 * dropped / max(1, written + dropped), 3)}
    pk_rss = os.path.join(raw, "portkey-rss.txt")
    if os.path.exists(pk_rss):
        rss, hwm = open(pk_rss).read().split()
        summary["portkey_rss"] = {"vmrss_mb": round(int(rss) / 1024, 1), "vmhwm_mb": round(int(hwm) / 1024, 1)}

    # ---- targets
    checks = []

    def check(name, value, target, ok, unit=""):
        checks.append({"name": name, "value": value, "target": target, "met": None if value is None else ok, "unit": unit})

    k = added.get("keel", {})
    check("added latency c=1 p50", k.get("p50_ms"), "<= 0.1 ms", k.get("p50_ms") is not None and k["p50_ms"] <= TARGETS["added_p50_ms"], "ms")
    check("added latency c=1 p99", k.get("p99_ms"), "<= 1 ms", k.get("p99_ms") is not None and k["p99_ms"] <= TARGETS["added_p99_ms"], "ms")
    kv = ratios.get("keel_sustained_vs_nginx", {}).get("median")
    check("throughput c=64 Keel/nginx, traces written", kv, ">= 0.50", kv is not None and kv >= TARGETS["throughput_vs_nginx"], "x")
    kp = ratios.get("keel_vs_portkey", {}).get("median")
    check("throughput c=64 Keel/Portkey", kp, "> 1.0", kp is not None and kp > TARGETS["throughput_vs_portkey"], "x")
    st = summary["stream_ttfb"]["added_ms"]
    check("stream added TTFB", st, "<= 0.5 ms", st is not None and st <= TARGETS["stream_added_ttfb_ms"], "ms")
    rss_peak = summary["keel_rss"]["peak_vmhwm_mb"]
    check("RSS under load (peak VmHWM)", rss_peak, "<= 200 MB", rss_peak is not None and rss_peak <= TARGETS["rss_mb"], "MB")
    rec = summary.get("keel_recorder")
    check("traces dropped (all recorded)", None if rec is None else rec["dropped"], "0",
          rec is not None and rec["dropped"] == 0, "")
    rd = summary["ready_ms"]["median"]
    check("ready (start -> /readyz 200)", rd, "<= 1000 ms", rd is not None and rd <= TARGETS["ready_ms"], "ms")
    relay_ok = relay.get("chunks_relayed_as_they_arrive")
    checks.append({"name": "stream chunks relayed as they arrive", "value": relay.get("keel", {}).get("lag_max_ms"),
                   "target": "max lag < 25 ms, gaps ~50 ms", "met": relay_ok, "unit": "ms"})
    summary["checks"] = checks

    doc = {
        "kind": "keel-load-bench",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "keel_rev": a.keel_rev,
        "machine": {
            "cores": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "kernel": platform.release(),
            "loadavg_at_start": open(os.path.join(raw, "loadavg-start.txt")).read().split() if os.path.exists(os.path.join(raw, "loadavg-start.txt")) else None,
            "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
        },
        "settings": {
            "repetitions": a.reps, "wrk_duration_s": a.duration, "quick": a.quick == "1",
            "c1": "wrk -t1 -c1 --latency", "c64": "wrk -t2 -c64 --latency",
            "nginx_proxy_workers": a.nginx_workers, "keel_store_bodies": a.store_bodies,
            "portkey": a.portkey_status,
        },
        "summary": summary,
        "runs": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)

    # ---- print
    def f(v, d=3):
        return "-" if v is None else f"{v:.{d}f}"

    print()
    print(f"Keel load bench — medians of {a.reps} repetition(s), {a.duration} s per wrk run, {os.cpu_count()} cores (shared)")
    print(f"Portkey: {a.portkey_status}")
    print()
    hdr = f"{'target':<9} {'c1 p50 ms':>10} {'c1 p99 ms':>10} {'c1 req/s':>9} {'c64 req/s':>10} {'c64 p50 ms':>11} {'c64 p99 ms':>11} {'cpu us/req':>11} {'errors':>7}"
    print(hdr)
    print("-" * len(hdr))
    for t in targets:
        s = summary["targets"][t]
        print(f"{t:<9} {f(s['c1_p50_ms']):>10} {f(s['c1_p99_ms']):>10} {f(s['c1_rps'], 0):>9} {f(s['c64_rps'], 0):>10} "
              f"{f(s['c64_p50_ms']):>11} {f(s['c64_p99_ms']):>11} {f(s['c64_server_cpu_us_per_req'], 1):>11} {s['errors']:>7}")
    print()
    print("added latency at c=1 (proxy minus direct, paired per repetition):")
    for t, v in added.items():
        print(f"  {t:<8} p50 +{f(v['p50_ms'])} ms   p99 +{f(v['p99_ms'])} ms   (per rep p50 {v['p50_per_rep_ms']}, p99 {v['p99_per_rep_ms']})")
    if "keel" in summary["targets"]:
        k64 = summary["targets"]["keel"]
        print(f"keel at c=64: {f(k64['c64_rps'], 0)} req/s while wrk ran, then {f(k64['c64_drain_s'], 2)} s to write the spooled traces: "
              f"{f(k64['c64_sustained_rps'], 0)} req/s with every trace written")
    print("throughput ratios at c=64 (keel_vs_portkey and keel_sustained_vs_nginx count the drain):")
    for name, v in ratios.items():
        print(f"  {name:<24} {f(v['median'], 2)}  (per rep {v['per_rep']})")
    s = summary["stream_ttfb"]
    print(f"streaming TTFB (median of {a.ttfb_n} per rep): direct {f(s['direct_median_ms'])} ms, keel {f(s['keel_median_ms'])} ms, added {f(s['added_ms'])} ms")
    for t in ("direct", "keel"):
        if t in relay:
            r = relay[t]
            print(f"stream relay via {t:<6}: lag median {r['lag_median_ms']} ms, max {r['lag_max_ms']} ms; gaps median {r['gap_median_ms']} ms, min {r['gap_min_ms']} ms")
    print(f"keel ready: median {f(summary['ready_ms']['median'], 1)} ms {summary['ready_ms']['samples']}")
    print(f"keel RSS: peak VmHWM {summary['keel_rss']['peak_vmhwm_mb']} MB, last VmRSS {summary['keel_rss']['last_vmrss_mb']} MB")
    if "portkey_rss" in summary:
        print(f"portkey RSS: VmHWM {summary['portkey_rss']['vmhwm_mb']} MB")
    if "keel_recorder" in summary:
        r = summary["keel_recorder"]
        print(f"keel recorder: {r['written']:,} traces written, {r['dropped']:,} dropped ({r['dropped_pct']} %)")
    print()
    print("targets:")
    for c in checks:
        verdict = "n/a " if c["met"] is None else ("MET " if c["met"] else "MISS")
        print(f"  [{verdict}] {c['name']:<38} {f(c['value'], 3):>9} {c['unit']:<3} target {c['target']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
