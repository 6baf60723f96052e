-- wrk script of bench/run: the request comes from the environment (WRK_METHOD, WRK_BODY;
-- headers are given with wrk -H; WRK_RANDOM_TOKEN=1 sends a random, unknown Token key with
-- every request, as a client guessing keys would, and WRK_RANDOM_SESSION=1 a random, unknown
-- sessionid cookie), and the summary is printed as one JSON line starting with "BENCHJSON "
-- for bench/run to pick up.

local method = os.getenv("WRK_METHOD")
if method and method ~= "" then
  wrk.method = method
end
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
end

-- n random characters of `alphabet`.
local function random_key(alphabet, n)
  local key = {}
  for i = 1, n do
    local k = math.random(1, #alphabet)
    key[i] = alphabet:sub(k, k)
  end
  return table.concat(key)
end

if os.getenv("WRK_RANDOM_TOKEN") == "1" then
  math.randomseed(os.time())
  request = function()
    local key = random_key("0123456789abcdef", 40)
    return wrk.format(nil, nil, { Authorization = "Token " .. key })
  end
elseif os.getenv("WRK_RANDOM_SESSION") == "1" then
  math.randomseed(os.time())
  request = function()
    -- Well-formed Django session keys (32 of [a-z0-9]), so they are looked up, not ignored.
    local key = random_key("abcdefghijklmnopqrstuvwxyz0123456789", 32)
    return wrk.format(nil, nil, { Cookie = "sessionid=" .. key })
  end
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
