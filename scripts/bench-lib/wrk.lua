-- wrk script used by every measurement of scripts/bench.
--
-- Environment (all optional):
--   BENCH_OUT     file the done() hook appends one TSV line to:
--                 rps requests p50 p90 p99 p99.9 max (µs) non2xx sockerr statuses
--   BENCH_METHOD  request method (default GET)
--   BENCH_BODY    request body; sent with Content-Type: application/json
--   BENCH_STATUS  "1": count responses per status code (the statuses column,
--                 e.g. "200:5123,403:2"); costs wrk CPU, so scripts/bench
--                 uses it in warm-ups and for slow cases only
--   BENCH_TOKENS  file of bearer tokens, one a line: request i carries
--                 token i (cycling), so every request names another user
--
-- wrk runs this file once in the main Lua state (setup, done) and once per
-- thread (request, response); globals are not shared between them.

local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then wrk.method = method end

local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local tokens_file = os.getenv("BENCH_TOKENS")
if tokens_file and tokens_file ~= "" then
  local tokens = {}
  for line in io.lines(tokens_file) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  local i = nil
  request = function()
    if i == nil then
      -- threads start at different places of the list
      i = ((thread_id or 0) * 7919) % #tokens
    end
    i = i % #tokens + 1
    local headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Authorization"] = "Bearer " .. tokens[i]
    return wrk.format(nil, nil, headers)
  end
end

if os.getenv("BENCH_STATUS") == "1" then
  statuses = {}
  response = function(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local out = os.getenv("BENCH_OUT")
  if not out or out == "" then return end
  local counted = {}
  local any = false
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if type(s) == "table" then
      for code, n in pairs(s) do
        counted[code] = (counted[code] or 0) + n
        any = true
      end
    end
  end
  local parts = {}
  for code, n in pairs(counted) do parts[#parts + 1] = string.format("%d:%d", code, n) end
  table.sort(parts)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local f = assert(io.open(out, "a"))
  f:write(string.format("%.1f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n",
    summary.requests / secs, summary.requests,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout,
    any and table.concat(parts, ",") or "-"))
  f:close()
end
