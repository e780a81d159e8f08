-- wrk script: POST /v1/events with BATCH events per request (env BATCH, default 1) and a bearer token
-- (env TOKEN). Bodies are built once per thread with distinct event_ids per slot; the ingest
-- path does not deduplicate, so reusing bodies measures the same work as fresh ones.
local batch = tonumber(os.getenv("BATCH") or "1")
local token = os.getenv("TOKEN") or ""
local bodies = {}
local idx = 0

local function uuid(n)
  return string.format("%08x-0000-4000-8000-%012x", math.random(0, 0x7fffffff), n)
end

local function event(n)
  local t = string.format("bench%03d", n % 50)
  if n % 3 == 0 then
    return string.format('{"event_id":"%s","type":"user.login","tenant_id":"%s","user_id":"%s-u%03d",' ..
      '"occurred_at":"2026-11-20T10:00:00.000Z","attributes":{"session_id":"s%d"}}', uuid(n), t, t, n % 97, n)
  elseif n % 3 == 1 then
    return string.format('{"event_id":"%s","type":"job.submitted","tenant_id":"%s","user_id":"%s-u%03d",' ..
      '"occurred_at":"2026-11-20T10:00:01.000Z","attributes":{"job_id":"j%d","servers":4,"data_size_bytes":1048576}}',
      uuid(n), t, t, n % 97, n)
  end
  return string.format('{"event_id":"%s","type":"dataset.updated","tenant_id":"%s","user_id":"%s-u%03d",' ..
    '"occurred_at":"2026-11-20T10:00:02.000Z","attributes":{"dataset_id":"d%d","size_bytes":123456789}}',
    uuid(n), t, t, n % 97, n)
end

function init(args)
  math.randomseed(os.time() + math.random(1, 100000))
  for b = 1, 64 do
    if batch == 1 then
      bodies[b] = event(b)
    else
      local parts = {}
      for i = 1, batch do parts[i] = event(b * batch + i) end
      bodies[b] = "[" .. table.concat(parts, ",") .. "]"
    end
  end
end

function request()
  idx = idx % #bodies + 1
  return wrk.format("POST", "/v1/events",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, bodies[idx])
end
