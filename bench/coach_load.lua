-- Coaches saving a dossier topic at once: one wrk thread with one connection per coach,
-- so each thread keeps its coach's session, version and count (bench/coach_load.py).
-- The script bench/coach_load.py writes sets `coaches` (path, headers, body with two %d:
-- the version and the value, the pattern of the version in the answer, the first
-- version and value), `floor` (true: GET `floor_path` with the coach's cookie instead: the
-- bench's logged-in floor, a bare view behind the whole middleware stack) and
-- `floor_path`, then runs this file in every thread.
local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end

function init(args)
  coach = coaches[id]
  version = coach.version
  -- Answers with the next version in the form (the save is stored), and every other one.
  saves = 0
  failures = 0
  last = 0
  sent = 0
end

function request()
  if floor then
    return wrk.format("GET", floor_path, coach.headers)
  end
  -- Every save stores a new value: the first value plus the saves before it, plus one.
  sent = coach.value + saves + 1
  return wrk.format("POST", coach.path, coach.headers, string.format(coach.body, version, sent))
end

function response(status, headers, body)
  if floor then
    if status == 200 then saves = saves + 1 else failures = failures + 1 end
    return
  end
  -- The answer is the topic's form again, holding the version the next save starts from,
  -- as htmx swaps it into the page.
  local stored = status == 200 and string.match(body, coach.pattern)
  if stored then
    version = tonumber(stored)
    saves = saves + 1
    last = sent
  else
    failures = failures + 1
  end
end

-- Per coach: thread, saves answered, other answers, the last value answered as stored and
-- the last value sent (larger when wrk stopped with a save sent but not yet answered).
function done(summary, latency, requests)
  local errors = summary.errors
  local per_coach = {}
  for _, thread in ipairs(threads) do
    table.insert(per_coach, string.format(
      "%d:%d:%d:%d:%d", thread:get("id"), thread:get("saves"), thread:get("failures"),
      thread:get("last"), thread:get("sent")
    ))
  end
  io.write(string.format(
    "BENCH-COACHES requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
    "status_errors=%d socket_errors=%d coaches=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(per_coach, ",")
  ))
end
