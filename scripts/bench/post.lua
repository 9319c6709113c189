-- wrk script: POSTs the JSON bodies in the files named by BENCH_BODIES (";"-separated).
-- One body: wrk's static request (fastest). Several: taken in turn, one per request.
-- The request headers come in BENCH_HEADERS, one "name: value" per line
-- (scripts/bench/client-headers.ts says which and why); wrk adds Host and Content-Length.
local headers = {}
local lines = assert(os.getenv("BENCH_HEADERS"), "BENCH_HEADERS is not set: run wrk through scripts/bench/wrk.ts")
for line in string.gmatch(lines, "[^\n]+") do
  local name, value = string.match(line, "^([^:]+): (.*)$")
  headers[name] = value
end

local bodies = {}
for path in string.gmatch(os.getenv("BENCH_BODIES"), "[^;]+") do
  local file = assert(io.open(path, "rb"))
  bodies[#bodies + 1] = file:read("*a")
  file:close()
end

wrk.method = "POST"
for name, value in pairs(headers) do
  wrk.headers[name] = value
end
wrk.body = bodies[1]

if #bodies > 1 then
  local requests = {}
  local i = 0
  function init(args)
    for n, body in ipairs(bodies) do
      requests[n] = wrk.format("POST", nil, nil, body)
    end
  end
  function request()
    i = i % #requests + 1
    return requests[i]
  end
end
