# shellcheck shell=bash
# Sourced by scripts/bench for `scripts/bench profile`: callgrind profiles
# of the passthrough and the gateway. Uses scripts/bench's helpers and
# variables.

# Each target runs under callgrind; after a warm-up the counters are zeroed,
# exactly PROFILE_REQUESTS keep-alive requests are sent on one connection, and
# the counters dumped: every figure is per request, all threads included.
start_upstream
prepare_gateway "60s"
python3 "$LIB/util.py" jwt "$JWT_SECRET" "$USER_ID" >"$RUN/token.txt"
: >"$RUN/summary.md"
for target in ${PROFILE_TARGETS:-nginx passthrough passthrough-mimalloc passthrough-timeouts jwt-get jwt-get-info public-get}; do
  name=callgrind-$target
  vg=(valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$RUN/$name.out")
  tokens=("$RUN/token.txt") port=$GW_PORT what="gateway, RUST_LOG=warn, JWT GET $API_PATH"
  case $target in
    nginx)
      # one process (no master), so callgrind sees the worker's every request
      nginx_conf nginxproxy "$NGX_PORT" \
        "upstream backend { server 127.0.0.1:$UP_PORT; keepalive 128; keepalive_requests 100000000; }" \
        "location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
      start "$name" "$RUN/nginxproxy" "${vg[@]}" "$NGINX" -p "$RUN/nginxproxy" -e "$RUN/nginxproxy/error.log" \
        -c "$RUN/nginxproxy/nginx.conf" -g 'daemon off; master_process off;'
      port=$NGX_PORT what="nginx proxy_pass with upstream keepalive, same request" ;;
    passthrough)
      start "$name" "$RUN" "${vg[@]}" "$PASSTHROUGH" "127.0.0.1:$PT_PORT" "127.0.0.1:$UP_PORT" 1
      port=$PT_PORT what="bare Pingora passthrough, GET $API_PATH with the same JWT header" ;;
    passthrough-mimalloc)
      start "$name" "$RUN" "${vg[@]}" "$PASSTHROUGH_MI" "127.0.0.1:$PTMI_PORT" "127.0.0.1:$UP_PORT" 1
      port=$PTMI_PORT what="bare Pingora passthrough with mimalloc, same request" ;;
    passthrough-timeouts)
      start "$name" "$RUN" env PASSTHROUGH_TIMEOUT_MS="$PT_TIMEOUT_MS" "${vg[@]}" "$PASSTHROUGH" \
        "127.0.0.1:$PTTO_PORT" "127.0.0.1:$UP_PORT" 1
      port=$PTTO_PORT what="bare Pingora passthrough arming the gateway's upstream timeouts, same request" ;;
    jwt-get) start "$name" "$GW" env RUST_LOG=warn "${vg[@]}" "$PORTCULLIS" --config gateway.yaml serve ;;
    jwt-get-info)
      start "$name" "$GW" env -u RUST_LOG "${vg[@]}" "$PORTCULLIS" --config gateway.yaml serve
      what="gateway, default info decision log, JWT GET $API_PATH" ;;
    public-get)
      start "$name" "$GW" env RUST_LOG=warn "${vg[@]}" "$PORTCULLIS" --config gateway.yaml serve
      tokens=() what="gateway, RUST_LOG=warn, anonymous GET $API_PATH" ;;
  esac
  url="http://127.0.0.1:$port$API_PATH"
  wait_status "$url" 200
  warm_up "$url" "${tokens[@]}"
  callgrind_control -z "${PID_OF[$name]}" >/dev/null
  echo "$target: $(python3 "$LIB/util.py" get "$url" "$PROFILE_REQUESTS" "${tokens[@]}")" >&2
  callgrind_control -d "${PID_OF[$name]}" >/dev/null
  kill -INT "${PID_OF[$name]}"; wait "${PID_OF[$name]}" 2>/dev/null || true
  dump="$RUN/$name.out.1"                # the counters dumped after the N requests
  [[ -s "$dump" ]] || dump="$RUN/$name.out"
  python3 "$LIB/callgrind.py" "$dump" "$PROFILE_REQUESTS" >"$RUN/$name.md"
  { echo "## $target: $what ($PROFILE_REQUESTS requests)"; echo; cat "$RUN/$name.md"; echo; } >>"$RUN/summary.md"
done
cat "$RUN/summary.md"
