-- wrk script: send a fixed list of requests, each once, then stop.
--   wrk -t1 -c8 -d120s -s items.lua URL -- ITEMS_FILE PROJECT_ID
-- ITEMS_FILE holds one request a line: METHOD <tab> PATH <tab> BODY (BODY may
-- be empty). All requests are built in init() so request() is a table lookup.
-- When the last answer is in, the thread stops and wrk's main thread, which
-- otherwise sleeps for the whole -d duration, is woken with SIGINT (its
-- "stop now" signal): the reported duration covers exactly the listed work.
-- done() prints one JSON line.

local reqs, n, reserved, sent, answered = {}, 0, 0, 0, 0
local idle

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["X-Project-Id"] = args[2]
  wrk.headers["X-Roles"] = "admin"
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if body == "" then body = nil end
    n = n + 1
    reqs[n] = wrk.format(method, path, nil, body)
  end
  idle = wrk.format("GET", "/")
end

-- wrk asks delay() before each request() of a connection: a connection that
-- finds no item left to reserve waits (an hour, never reached) for the last
-- answers of the others instead of sending anything more.
function delay()
  if reserved >= n then return 3600000 end
  reserved = reserved + 1
  return 0
end

local verified = false
function request()
  -- wrk calls request() once before the run to check for pipelining: that
  -- call must not use up an item.
  if not verified then
    verified = true
    return reqs[1] or idle
  end
  sent = sent + 1
  return reqs[sent] or idle
end

function response(status, headers, body)
  answered = answered + 1
  if answered == n then
    wrk.thread:stop()
    -- (not os.execute: system() ignores SIGINT while its child runs)
    io.popen("kill -INT $PPID"):close()  -- the shell's parent is wrk
    -- ... and tell whoever runs wrk, in case that signal was missed.
    io.stderr:write("items.lua: all answered\n")
    io.stderr:flush()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
