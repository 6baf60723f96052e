-- wrk script of bench/run's spray: every request carries a random, unknown Token key, as a
-- client guessing keys would send. Prints the summary like wrk.lua.

math.randomseed(os.time())
local hex = "0123456789abcdef"

request = function()
  local key = {}
  for i = 1, 40 do
    local n = math.random(1, 16)
    key[i] = hex:sub(n, n)
  end
  return wrk.format("GET", nil, { Authorization = "Token " .. table.concat(key) })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,'
      .. '"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
