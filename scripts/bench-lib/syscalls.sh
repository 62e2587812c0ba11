# shellcheck shell=bash
# Sourced by scripts/bench for `scripts/bench syscalls`: system calls per
# request of the proxies and of their upstream, counted by the kernel's
# tracepoints (`perf stat -e 'syscalls:sys_enter_*'`) while wrk loads each
# target exactly as `scripts/bench` does (CONNS connections, DURATION s).
# User-space profiles (callgrind) do not see the kernel's share of a
# request; this does. Uses scripts/bench's helpers and variables.
command -v perf >/dev/null || { echo "perf is missing (apt-get install -y linux-perf)" >&2; exit 2; }
start_upstream
start_passthrough passthrough
start_passthrough passthrough-timeouts
prepare_gateway "60s"
start_gateway gateway gateway.yaml "$GW_PORT" warn
: >"$RUN/summary.md"
for c in ${SYSCALL_CASES:-passthrough-anon public-get passthrough passthrough-timeouts jwt-get}; do
  case_spec "$c"
  out="$RUN/wrk-$c.tsv"
  PERF_PIDS=()
  for who in "$PROXY" upstream; do
    pid=${PID_OF[$who]}
    # nginx: its worker; every thread of the process (perf attaches to those alive now)
    [[ $who != upstream ]] || pid=$(pgrep -P "$pid" | head -1)
    perf stat -x $'\t' -e 'syscalls:sys_enter_*' -p "$pid" \
      -o "$RUN/perf-$c-$who.tsv" -- sleep "$((DURATION + 1))" &
    PERF_PIDS+=($!)
  done
  sleep 0.5
  wrk_bg "$out" "$CONNS_OF" "$DURATION" "$URL" "${ENVS[@]}" "${HDR[@]}"
  wait $! || true
  wait "${PERF_PIDS[@]}" 2>/dev/null || true
  requests=$(cut -f2 "$out")
  python3 - "$RUN" "$c" "$PROXY" "$requests" >>"$RUN/summary.md" <<'PY'
import sys
run, case, proxy, requests = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
print(f"## {case} ({requests} requests in the measurement; calls per request)\n")
print("| syscall | " + proxy + " | upstream |")
print("|---|---:|---:|")
counts = {}
for col, who in enumerate((proxy, "upstream")):
    for line in open(f"{run}/perf-{case}-{who}.tsv"):
        f = line.rstrip("\n").split("\t")
        if len(f) < 3 or not f[0].strip().isdigit():
            continue
        name = f[2].split("sys_enter_")[-1]
        counts.setdefault(name, [0, 0])[col] = int(f[0])
total = [0, 0]
for name, (a, b) in sorted(counts.items(), key=lambda kv: -kv[1][0] - kv[1][1]):
    total[0] += a; total[1] += b
    if (a + b) / requests >= 0.005:
        print(f"| {name} | {a / requests:.3f} | {b / requests:.3f} |")
print(f"| **all** | **{total[0] / requests:.3f}** | **{total[1] / requests:.3f}** |\n")
PY
done
cat "$RUN/summary.md"
