-- wrk's own summary has no 95th percentile: print the figures bench/run.py reads as one line.
-- Only done() is defined, so wrk keeps its fast Lua-free request path.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH-RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d " ..
    "status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout
  ))
end
