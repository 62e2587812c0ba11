#!/usr/bin/env python3
"""Per-request figures from a callgrind dump covering exactly N requests.

    callgrind.py CALLGRIND_OUT N     prints markdown

- instructions (Ir) per request, total and split by object (binary, libc, ...)
- calls per request to malloc/calloc/realloc, free, memcpy/memmove
- where the allocations come from: callers of malloc & co., walking up
  through allocator shims (__rust_alloc, RawVec, ...) to the first frame that
  is not one
- the top functions by exclusive (self) instructions per request
"""
import re
import sys
from collections import defaultdict

ALLOC = re.compile(r"^(__libc_)?(malloc|calloc|realloc)$")
FREE = re.compile(r"^(__libc_)?free$|^cfree$")
COPY = re.compile(r"mem(cpy|move)")
SHIM = re.compile(r"__rd?[lg]?_?(alloc|realloc|dealloc)|__rust_|^alloc::alloc|raw_vec|RawVec"
                  r"|^alloc::vec::Vec<.*>::(reserve|push|with_capacity|extend)|finish_grow|do_reserve_and_handle"
                  r"|grow_one|grow_amortized|^<alloc::string::String as core::clone::Clone>"
                  r"|^alloc::slice::.*to_vec|^<alloc::vec::Vec<.*> as core::clone::Clone>|^alloc::string::String::push"
                  r"|^alloc::fmt::format|^alloc::boxed::Box<.*>::new|^alloc::sync::Arc<.*>::new|exchange_malloc")


def parse(path):
    names, objs = {}, {}
    fn = cfn = None
    fn_obj = {}
    cur_ob = None
    self_cost = defaultdict(int)
    edges = defaultdict(int)          # (caller, callee) -> calls
    total = 0
    after_calls = False

    def name_of(spec, table):
        m = re.match(r"\((\d+)\)(?: (.*))?$", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), m.group(1))

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 and parts[1].lstrip("-").isdigit() else 0
                if after_calls:
                    after_calls = False   # inclusive cost of the call: not self cost
                elif fn is not None:
                    self_cost[fn] += cost
                continue
            key, _, val = line.partition("=")
            if key == "ob":
                cur_ob = name_of(val, objs)
            elif key == "fn":
                fn = name_of(val, names)
                fn_obj.setdefault(fn, cur_ob)
            elif key == "cfn":
                cfn = name_of(val, names)
            elif key == "cob":
                name_of(val, objs)
            elif key == "calls":
                edges[(fn, cfn)] += int(val.split()[0])
                after_calls = True
            elif key in ("summary", "totals"):
                total = int(line.split(":")[1].split()[0]) if ":" in line else total
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split(":")[1].split()[0]))
    return self_cost, edges, fn_obj, total


def main(path, n):
    n = int(n)
    self_cost, edges, fn_obj, total = parse(path)
    if not total:
        total = sum(self_cost.values())
    calls_into = defaultdict(int)
    callers = defaultdict(lambda: defaultdict(int))
    for (a, b), k in edges.items():
        calls_into[b] += k
        callers[b][a] += k

    def count(rx):
        return sum(k for f, k in calls_into.items() if f and rx.search(f))

    by_obj = defaultdict(int)
    for f, cst in self_cost.items():
        by_obj[(fn_obj.get(f) or "?").rsplit("/", 1)[-1]] += cst

    out = [f"- instructions per request: **{total / n:,.0f}** (all threads, {n} requests)"]
    out.append("- by object: " + ", ".join(
        f"{o} {c / n:,.0f}" for o, c in sorted(by_obj.items(), key=lambda x: -x[1])[:5]))
    out.append(f"- per request: **{count(ALLOC) / n:.1f}** malloc/calloc/realloc, "
               f"{count(FREE) / n:.1f} free, {count(COPY) / n:.1f} memcpy/memmove calls")

    # attribute allocations to the first non-shim caller
    sites = defaultdict(float)

    def attribute(fn, k, depth=0):
        if depth > 12 or fn is None or not (SHIM.search(fn) or ALLOC.search(fn)):
            sites[fn] += k
            return
        ups = callers.get(fn)
        tot = sum(ups.values()) if ups else 0
        if not tot:
            sites[fn] += k
            return
        for up, c in ups.items():
            attribute(up, k * c / tot, depth + 1)

    for f, k in list(calls_into.items()):
        if f and ALLOC.search(f):
            for up, c in callers[f].items():
                attribute(up, c, 0)
    out.append("\nAllocation sites (allocations per request, attributed through allocator shims):\n")
    out.append("| allocs/req | function |")
    out.append("|---:|---|")
    for fn, k in sorted(sites.items(), key=lambda x: -x[1])[:20]:
        if k / n < 0.05:
            break
        out.append(f"| {k / n:.2f} | `{short(fn)}` |")

    out.append("\nTop functions by self instructions per request:\n")
    out.append("| Ir/req | % | function | object |")
    out.append("|---:|---:|---|---|")
    for fn, cst in sorted(self_cost.items(), key=lambda x: -x[1])[:25]:
        out.append(f"| {cst / n:,.0f} | {100 * cst / total:.1f} | `{short(fn)}` "
                   f"| {(fn_obj.get(fn) or '?').rsplit('/', 1)[-1]} |")
    print("\n".join(out))


def short(fn, width=150):
    fn = fn or "?"
    fn = re.sub(r"::h[0-9a-f]{16}$", "", fn)
    return fn if len(fn) <= width else fn[: width - 1] + "…"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
