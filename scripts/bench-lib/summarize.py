#!/usr/bin/env python3
"""Summarize a scripts/bench run: medians over rounds, ratios against the
Pingora passthrough of the same round, status checks, login flood, and the
issue-7 budget lines this run can decide.

    summarize.py RUN_DIR        reads RUN_DIR/raw.tsv (and skipped.tsv), prints markdown

raw.tsv has one line per wrk run. Round 0 is the warm-up: it is not in the
medians, but its per-status counts are what the status check uses (warm-ups
count every response's status; measured runs only count non-2xx, which is
cheaper for wrk). A measured run in which processes that are not part of the
benchmark (plus hypervisor steal) used more than NOISY_PCT of the machine is
left out of the medians when the case has at least one quieter round.
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

NOISY_PCT = 5.0          # other processes + steal, % of all CPUs
LOADGEN_BOUND_PCT = 95.0  # wrk's own core is saturated: rps is a lower bound
BASE = "passthrough"
# The same passthrough with the gateway's allocator: read against it, the
# ratios isolate what authorization costs from what the allocator saves.
TUNED = "passthrough-mimalloc"
# The passthrough sent public-get's request (no Authorization header): the
# public GET budget line is read against it when the run has it, since the
# other passthrough cases carry jwt-get's 180-byte header, which Pingora
# parses at a cost the anonymous gateway request does not pay.
ANON = "passthrough-anon"
# The passthrough arming the gateway's upstream timeouts: read against it,
# the ratios leave out what the timers cost.
TIMED = "passthrough-timeouts"
FLOOD = "login-flood"
FLOOD_LOGIN = "login-flood/login"
EXPECTED = {"deny-403": "403"}   # otherwise: 2xx only

BUDGET = [
    # (label, case, kind, threshold, baseline: the passthrough case a ratio
    # is read against when the run has it, else BASE)
    ("JWT GET rps >= 0.95x passthrough", "jwt-get", "ratio", 0.95, BASE),
    ("JWT GET p99 <= passthrough p99 + 0.15 ms", "jwt-get", "p99_plus", 0.15, BASE),
    ("public GET rps >= 0.97x passthrough", "public-get", "ratio", 0.97, ANON),
    ("403 deny faster than passthrough (rps higher, p50 lower)", "deny-403", "faster", None, BASE),
    ("login >= 50/s", "login", "rps_min", 50.0, BASE),
    ("JWT GET p99 under login flood <= 2x idle", FLOOD, "flood", 2.0, BASE),
]


def num(r, col):
    v = r.get(col, "-")
    return None if v in ("-", "", None) else float(v)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, spec, dash="-"):
    return dash if v is None else format(v, spec)


def main(run):
    rows = list(csv.DictReader(open(os.path.join(run, "raw.tsv")), delimiter="\t"))
    skipped = {}
    sk = os.path.join(run, "skipped.tsv")
    if os.path.exists(sk):
        for line in open(sk):
            if line.strip():
                case, _, why = line.rstrip("\n").partition("\t")
                skipped[case] = why
    order, warm, meas = [], defaultdict(list), defaultdict(list)
    for r in rows:
        c = r["case"]
        if c not in order:
            order.append(c)
        (warm if r["round"] == "0" else meas)[c].append(r)

    def other(r):
        return num(r, "other_cpu_pct") or 0.0

    def per_round(rs, base_rows):
        """Per-round rps ratios and p99 differences (ms) of the runs `rs`
        against `base_rows`, over rounds where both were quiet."""
        by_round = {r["round"]: r for r in base_rows}
        ratios, p99d = [], []
        for r in rs:
            b = by_round.get(r["round"])
            if b and num(b, "rps") and other(r) <= NOISY_PCT and other(b) <= NOISY_PCT:
                ratios.append(num(r, "rps") / num(b, "rps"))
                p99d.append((num(r, "p99_us") - num(b, "p99_us")) / 1000)
        return ratios, p99d

    def against(rs, base_rows):
        """Medians of `per_round`."""
        ratios, p99d = per_round(rs, base_rows)
        return med(ratios), med(p99d)

    used = {}
    for c, rs in meas.items():
        clean = [r for r in rs if other(r) <= NOISY_PCT]
        used[c] = clean or rs
    jwt_by_round = {r["round"]: r for r in meas.get("jwt-get", [])}

    out, notes, fallback = [], [], set()
    out.append("| case | rounds | rps | p50 ms | p99 ms | non-2xx | proxy CPU µs/req "
               "| proxy CPU / passthrough | rps / passthrough | p99 − passthrough ms | other CPU % (max) | status check |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    summary = {}
    for c in order:
        if c == FLOOD_LOGIN or c not in meas:
            continue
        rs = used[c]
        rps = med(num(r, "rps") for r in rs)
        p50 = med(num(r, "p50_us") for r in rs)
        p99 = med(num(r, "p99_us") for r in rs)
        cpu = med(num(r, "proxy_us_req") for r in rs)
        if c == "direct":
            cpu = med(num(r, "upstream_us_req") for r in rs)
        non2xx = sum(int(r["non2xx"]) for r in rs)
        reqs = sum(int(r["requests"]) for r in rs)
        sockerr = sum(int(r["sockerr"]) for r in rs)
        # against the passthrough: per round where both runs were quiet,
        # else (marked †) the ratio of the medians of the rounds used
        ratios, p99d = per_round(rs, meas.get(BASE, []))
        paired = bool(ratios)
        if not paired and BASE in used and c != BASE:
            b_rps = med(num(r, "rps") for r in used[BASE])
            b_p99 = med(num(r, "p99_us") for r in used[BASE])
            ratios, p99d = [rps / b_rps], [(p99 - b_p99) / 1000]
            fallback.add(c)
        ratio, dp99 = med(ratios), med(p99d)
        others = [other(r) for r in meas[c]]
        base_cpu = med(num(r, "proxy_us_req") for r in used.get(BASE, []))
        cpu_ratio = "-" if c in ("direct", BASE) or not base_cpu or cpu is None else f"{cpu / base_cpu:.2f}"
        if c == BASE:
            cpu_ratio = "1.00"
        # status check: warm-up counted every status; measured runs count non-2xx
        seen = ",".join(r["statuses"] for r in warm.get(c, []) if r["statuses"] != "-") or "-"
        want = EXPECTED.get(c)
        codes = {kv.split(":")[0] for kv in seen.split(",") if ":" in kv}
        if want:
            ok = codes == {want} and non2xx == reqs and sockerr == 0
            check = f"{'ok' if ok else 'FAIL'}: only {want} (warm-up {seen}; {non2xx}/{reqs} non-2xx)"
        else:
            ok = all(x.startswith("2") for x in codes) and non2xx == 0 and sockerr == 0
            check = f"{'ok' if ok else 'FAIL'}: 2xx only (warm-up {seen or '-'})"
        if sockerr:
            check += f", {sockerr} socket errors"
        if not ok:
            notes.append(f"{c}: status check failed ({check})")
        wrk_cpu = med(num(r, "wrk_cpu_pct") for r in rs)
        if wrk_cpu is not None and wrk_cpu >= LOADGEN_BOUND_PCT:
            notes.append(f"{c}: wrk used {wrk_cpu:.0f}% of its core (load-generator bound: rps is a lower bound)")
        if all(o > NOISY_PCT for o in others):
            notes.append(f"{c}: every round had other CPU use > {NOISY_PCT}% (max {max(others):.1f}%); numbers are noisy")
        elif len(rs) < len(meas[c]):
            notes.append(f"{c}: {len(meas[c]) - len(rs)} noisy round(s) left out")
        summary[c] = dict(rps=rps, p50=p50, p99=p99, ratio=ratio, dp99=dp99, ok=ok)
        out.append(
            f"| {c} | {len(rs)}/{len(meas[c])} | {fmt(rps, ',.0f')} | {fmt(p50 and p50 / 1000, '.3f')} "
            f"| {fmt(p99 and p99 / 1000, '.3f')} | {non2xx} | {fmt(cpu, '.1f')} | {cpu_ratio} "
            f"| {'1.00' if c == BASE else fmt(ratio, '.3f') + ('†' if c in fallback else '')} "
            f"| {'0' if c == BASE else fmt(dp99, '+.3f') + ('†' if c in fallback else '')} "
            f"| {statistics.median(others):.1f} ({max(others):.1f}) | {check} |")
    for c, why in skipped.items():
        out.append(f"| {c} | SKIPPED |" + " |" * 9 + f" {why} |")

    # login flood: jwt-get load with a concurrent login flood, against the
    # idle jwt-get of the same round
    if FLOOD in meas:
        out.append("\n**Login flood** (jwt-get load while a second wrk, 8 connections, floods "
                   "`POST /api/auth/local`; idle = jwt-get of the same round)\n")
        out.append("| round | jwt-get rps idle | flood | jwt-get p99 ms idle | flood | p99 flood/idle | logins/s | login statuses |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---|")
        logins = {r["round"]: r for r in meas.get(FLOOD_LOGIN, [])}
        fr, fq, lr = [], [], []
        for r in meas[FLOOD]:
            idle = jwt_by_round.get(r["round"])
            lg = logins.get(r["round"])
            ratio = num(r, "p99_us") / num(idle, "p99_us") if idle and num(idle, "p99_us") else None
            if ratio is not None:
                fr.append(ratio)
            if lg:
                lr.append(num(lg, "rps"))
            quiet = idle is not None and other(idle) <= NOISY_PCT and other(r) <= NOISY_PCT
            if ratio is not None and quiet:
                fq.append(ratio)
            out.append(
                f"| {r['round']}{'' if quiet else ' (noisy)'} | {fmt(idle and num(idle, 'rps'), ',.0f')} | {num(r, 'rps'):,.0f} "
                f"| {fmt(idle and num(idle, 'p99_us') / 1000, '.3f')} | {num(r, 'p99_us') / 1000:.3f} "
                f"| {fmt(ratio, '.2f')} | {fmt(lg and num(lg, 'rps'), '.1f')} | {lg['statuses'] if lg else '-'} |")
        summary[FLOOD] = dict(flood_ratio=med(fq) if fq else med(fr), logins=med(lr))
        out.append(f"| median{' (quiet rounds)' if fq else ''} | | | | | {fmt(summary[FLOOD]['flood_ratio'], '.2f')} "
                   f"| {fmt(med(lr), '.1f')} | |")

    out.append("\n**Budget (issue 7), from this run**\n")
    for label, c, kind, th, base in BUDGET:
        s = summary.get(c)
        if c in skipped or not s:
            out.append(f"- {label}: SKIPPED ({skipped.get(c, 'case not run')})")
            continue
        b = summary.get(BASE, {})
        if kind == "ratio" and base != BASE and base in meas:
            ratio, _ = against(used[c], meas[base])
            ok = ratio is not None and ratio >= th
            got = f"{fmt(ratio, '.3f')}x {base} ({fmt(s['ratio'], '.3f')}x {BASE})"
        elif kind == "ratio":
            ok, got = s["ratio"] is not None and s["ratio"] >= th, f"{fmt(s['ratio'], '.3f')}x"
        elif kind == "p99_plus":
            ok = s["dp99"] is not None and s["dp99"] <= th
            got = f"p99 {fmt(s['dp99'], '+.3f')} ms vs passthrough (medians {s['p99'] / 1000:.3f} vs {b.get('p99', 0) / 1000:.3f} ms)"
        elif kind == "faster":
            ok = bool(b) and s["rps"] > b["rps"] and s["p50"] < b["p50"]
            got = f"{s['rps']:,.0f} vs {b.get('rps', 0):,.0f} rps, p50 {s['p50'] / 1000:.3f} vs {b.get('p50', 0) / 1000:.3f} ms"
        elif kind == "rps_min":
            ok, got = s["rps"] >= th, f"{s['rps']:.1f}/s"
        else:  # flood
            ok = s["flood_ratio"] is not None and s["flood_ratio"] <= th
            got = f"{fmt(s['flood_ratio'], '.2f')}x idle p99, {fmt(s['logins'], '.1f')} logins/s meanwhile"
        out.append(f"- {'PASS' if ok else 'FAIL'} {label}: {got}")
    for c in ("public-get", "public-get-b"):
        if ANON in meas and c in meas:
            ratio, dp99 = against(used[c], meas[ANON])
            out.append(f"\n**{c} against {ANON}** (the passthrough sent the same anonymous "
                       f"request): {fmt(ratio, '.3f')}x rps, p99 {fmt(dp99, '+.3f')} ms")
    for base, what in ((TUNED, "the bare passthrough with the gateway's allocator"),
                       (TIMED, "the bare passthrough arming the gateway's upstream timeouts")):
        if base not in meas:
            continue
        out.append(f"\n**Against {base}** ({what}; "
                   "median of per-round ratios over quiet rounds)\n")
        for c in order:
            if c in (BASE, TUNED, ANON, TIMED, "direct", "nginx", FLOOD, FLOOD_LOGIN, "login") \
                    or c not in meas:
                continue
            ratio, dp99 = against(used[c], meas[base])
            out.append(f"- {c}: {fmt(ratio, '.3f')}x rps, p99 {fmt(dp99, '+.3f')} ms")
    if fallback:
        notes.append("† no round in which both this case and the passthrough were quiet: "
                     "ratio of the medians instead of the median of per-round ratios")
    if notes:
        out.append("\n**Notes**\n")
        out.extend(f"- {n}" for n in notes)
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
