# shellcheck shell=bash
# Sourced by scripts/bench for `scripts/bench cache`: a cache simulation
# (valgrind --tool=cachegrind) of the passthrough with mimalloc and of the
# gateway, to see how much of the gateway's extra time is cache misses
# rather than instructions. Uses scripts/bench's helpers and variables.

# cachegrind cannot zero its counters mid-run, so every target runs twice,
# with N0 and N0 + PROFILE_REQUESTS keep-alive requests after the same
# warm-up (`warm_up`, as in `profile`); the difference
# divided by PROFILE_REQUESTS is per request, start-up and shutdown cancel
# out. The cache geometry is fixed (32 KiB L1i, 48 KiB L1d, 32 MiB LL), so
# figures compare across hosts.
start_upstream
prepare_gateway "60s"
python3 "$LIB/util.py" jwt "$JWT_SECRET" "$USER_ID" >"$RUN/token.txt"
N0=500
: >"$RUN/summary.md"
for target in ${CACHE_TARGETS:-passthrough-mimalloc public-get jwt-get}; do
  for n in "$N0" $((N0 + PROFILE_REQUESTS)); do
    name=cachegrind-$target-$n
    vg=(valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=49152,12,64
      --LL=33554432,16,64 --cachegrind-out-file="$RUN/$name.out")
    tokens=("$RUN/token.txt") port=$GW_PORT
    case $target in
      passthrough-mimalloc)
        start "$name" "$RUN" "${vg[@]}" "$PASSTHROUGH_MI" "127.0.0.1:$PTMI_PORT" "127.0.0.1:$UP_PORT" 1
        port=$PTMI_PORT ;;
      jwt-get) start "$name" "$GW" env RUST_LOG=warn "${vg[@]}" "$PORTCULLIS" --config gateway.yaml serve ;;
      public-get)
        start "$name" "$GW" env RUST_LOG=warn "${vg[@]}" "$PORTCULLIS" --config gateway.yaml serve
        tokens=() ;;
      *) echo "unknown cache target $target" >&2; exit 2 ;;
    esac
    url="http://127.0.0.1:$port$API_PATH"
    wait_status "$url" 200
    warm_up "$url" "${tokens[@]}"
    echo "$target ($n): $(python3 "$LIB/util.py" get "$url" "$n" "${tokens[@]}")" >&2
    kill -INT "${PID_OF[$name]}"; wait "${PID_OF[$name]}" 2>/dev/null || true
  done
  # Per function, the PROFILE_REQUESTS requests alone:
  # cg_annotate --show=Ir,I1mr,D1mr,DLmr "$RUN/cachegrind-$target.diff"
  cg_diff "$RUN/cachegrind-$target-$N0.out" "$RUN/cachegrind-$target-$((N0 + PROFILE_REQUESTS)).out" \
    >"$RUN/cachegrind-$target.diff" 2>/dev/null || true
done
python3 - "$RUN" "$N0" "$PROFILE_REQUESTS" ${CACHE_TARGETS:-passthrough-mimalloc public-get jwt-get} <<'PY' | tee "$RUN/summary.md"
import re, sys
run, n0, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keys = ["I refs", "I1 misses", "D refs", "D1 misses", "LL misses"]
def read(path):
    d = {}
    for line in open(path, errors="replace"):
        m = re.search(r"==\d+== (I|I1|D|D1|LL)\s+(refs|misses):\s+([\d,]+)", line)
        if m:
            d[f"{m.group(1)} {m.group(2)}"] = int(m.group(3).replace(",", ""))
    return d
print(f"Per request (cachegrind, {n} requests; 32 KiB L1i, 48 KiB L1d, 32 MiB LL):\n")
print("| target | " + " | ".join(keys) + " |")
print("|---|" + "---:|" * len(keys))
for t in sys.argv[4:]:
    a, b = read(f"{run}/cachegrind-{t}-{n0}.log"), read(f"{run}/cachegrind-{t}-{n0 + n}.log")
    print(f"| {t} | " + " | ".join(f"{(b.get(k, 0) - a.get(k, 0)) / n:,.0f}" for k in keys) + " |")
PY
