-- wrk script: POST /v1/batch with 100 fresh events per request, so no event
-- is a duplicate and every one reaches the sink.
-- Usage: TOKEN=... wrk -t2 -c8 -d20s -s batch.lua http://127.0.0.1:8080
local token = os.getenv("TOKEN") or error("set TOKEN to a status token")
local events_per_batch = 100

local function uuid()
  return string.format("%08x-%04x-4%03x-%04x-%06x%06x",
    math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

function setup(thread)
  thread:set("seed", math.random(1, 0x7fffffff))
end

function init(args)
  math.randomseed(seed + os.time())
end

function request()
  local events = {}
  for i = 1, events_per_batch do
    events[i] = '{"id":"' .. uuid() .. '","name":"bench.event","ts":"2026-11-29T08:00:00Z","props":{"screen":"reports","i":' .. i .. '}}'
  end
  local body = '{"sent_at":"2026-11-29T08:00:01Z","sdk":{"name":"wrk","version":"1"},"events":[' .. table.concat(events, ",") .. ']}'
  return wrk.format("POST", "/v1/batch", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("batches/s %.0f  events/s %.0f  non-2xx %d\n",
    summary.requests / (summary.duration / 1e6),
    summary.requests * events_per_batch / (summary.duration / 1e6),
    summary.errors.status))
end
