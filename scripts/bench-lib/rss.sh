# shellcheck shell=bash
# Sourced by scripts/bench for `scripts/bench rss`: RSS of one gateway
# after RSS_USERS distinct users have each sent a JWT GET (all cached:
# cache.ttl is 10m here). Uses scripts/bench's helpers and variables.

start_upstream
prepare_gateway "10m"   # every user stays cached for the whole test
echo "seeding $RSS_USERS users into SQLite..." >&2
read -r FIRST _ < <(python3 "$LIB/util.py" seed-users "$GW/portcullis.db" "$RSS_USERS")
python3 "$LIB/util.py" jwt "$JWT_SECRET" "$FIRST" "$RSS_USERS" >"$RUN/tokens.txt"
start_gateway gateway gateway.yaml "$GW_PORT" warn
pid=${PID_OF[gateway]}
curl -s -o /dev/null -H "Authorization: Bearer $JWT" "http://127.0.0.1:$GW_PORT$API_PATH"
rss() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
rss0=$(rss "$pid" VmRSS)
echo "idle RSS ${rss0} kB; $RSS_DURATION s of JWT GETs cycling through $RSS_USERS users..." >&2
out="$RUN/rss-wrk.tsv"
wrk_bg "$out" "$CONNS" "$RSS_DURATION" "http://127.0.0.1:$GW_PORT$API_PATH" \
  BENCH_TOKENS="$RUN/tokens.txt" BENCH_STATUS=1
wait $! || true
read -r rps reqs _ _ p99 _ _ _ _ statuses <"$out"
metrics=$(curl -s "http://127.0.0.1:$GW_ADMIN/metrics" | tee "$RUN/metrics.txt")
misses=$(awk '/^portcullis_cache_requests_total/ && /tier="local"/ && /result="miss"/ {print $2}' <<<"$metrics")
rss1=$(rss "$pid" VmRSS); hwm=$(rss "$pid" VmHWM)
# open SQLite database files = connections in the store's pool (each has its
# own page cache)
dbconns=$(find "/proc/$pid/fd" -lname '*portcullis.db' 2>/dev/null | wc -l)
extra="threads $(rss "$pid" Threads), SQLite connections open: $dbconns"
{
  echo "| users | requests | statuses | rps | p99 ms | memory-cache misses | RSS idle | RSS after | VmHWM | budget |"
  echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
  verdict=$([[ $reqs -ge $RSS_USERS && $rss1 -lt 102400 ]] && echo "PASS (< 100 MiB)" || echo "FAIL")
  [[ $reqs -ge $RSS_USERS ]] || verdict="INCONCLUSIVE: fewer requests than users"
  printf '| %s | %s | %s | %.0f | %.2f | %s | %.1f MiB | %.1f MiB | %.1f MiB | %s |\n' \
    "$RSS_USERS" "$reqs" "$statuses" "$rps" "$(awk -v p="$p99" 'BEGIN{print p/1000}')" \
    "${misses:--}" "$(awk -v k="$rss0" 'BEGIN{print k/1024}')" \
    "$(awk -v k="$rss1" 'BEGIN{print k/1024}')" "$(awk -v k="$hwm" 'BEGIN{print k/1024}')" "$verdict"
  echo
  echo "$extra"
} | tee "$RUN/summary.md"
