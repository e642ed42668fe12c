-- One wrk script for every scenario, so baseline and subject get the same generator.
--
--   wrk -t1 -c16 -d5s -s benchmarks/wrk/bench.lua http://127.0.0.1:PORT -- MODE [IDS] [BODY] [ORIGIN]
--
-- MODE: read | history | create | update | preflight
-- IDS:  file with one Patient id a line (read, history, update)
-- BODY: file with the Patient JSON (create; update replaces __ID__ with the id
--       and __N__ with a per-request counter, so that every update changes the resource)
-- ORIGIN: sent as Origin on every request when given ("-" = none)
--
-- Every request is built once in init(); request() only hands out the next one,
-- each thread starting at a different id. done() prints one BENCH_JSON line.

local requests_ = {}
local count, index = 0, 0
local update_paths, update_bodies, update_headers = nil, nil, nil
local counter = 0

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local function read_ids(path)
  local ids = {}
  for line in io.lines(path) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  assert(#ids > 0, "no ids in " .. path)
  return ids
end

local function base_headers(origin)
  local h = {}
  if origin and origin ~= "" and origin ~= "-" then h["Origin"] = origin end
  return h
end

function setup(thread)
  thread_counter = (thread_counter or 0) + 1
  thread:set("thread_number", thread_counter)
end

function init(args)
  local mode, ids_path, body_path, origin = args[1], args[2], args[3], args[4]
  if mode == "read" or mode == "history" then
    local suffix = (mode == "history") and "/_history" or ""
    for _, id in ipairs(read_ids(ids_path)) do
      requests_[#requests_ + 1] = wrk.format("GET", "/Patient/" .. id .. suffix, base_headers(origin))
    end
  elseif mode == "create" then
    local h = base_headers(origin)
    h["Content-Type"] = "application/fhir+json"
    requests_[1] = wrk.format("POST", "/Patient", h, read_file(body_path))
  elseif mode == "update" then
    local template = read_file(body_path)
    update_paths, update_bodies = {}, {}
    update_headers = base_headers(origin)
    update_headers["Content-Type"] = "application/fhir+json"
    for _, id in ipairs(read_ids(ids_path)) do
      update_paths[#update_paths + 1] = "/Patient/" .. id
      update_bodies[#update_bodies + 1] = template:gsub("__ID__", id)
      requests_[#requests_ + 1] = true
    end
  elseif mode == "preflight" then
    local h = base_headers(origin)
    h["Access-Control-Request-Method"] = "PUT"
    h["Access-Control-Request-Headers"] = "authorization,content-type"
    requests_[1] = wrk.format("OPTIONS", "/Patient", h)
  else
    error("unknown mode " .. tostring(mode))
  end
  count = #requests_
  local n = tonumber(thread_number) or 1
  index = ((n - 1) * 7919) % count
end

function request()
  index = index + 1
  if index > count then index = 1 end
  if update_paths then
    counter = counter + 1
    local body = update_bodies[index]:gsub("__N__", tostring(thread_number) .. "-" .. counter)
    return wrk.format("PUT", update_paths[index], update_headers, body)
  end
  return requests_[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
