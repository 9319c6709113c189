-- wrk script: POSTs the JSON bodies in the files named by BENCH_BODIES (";"-separated).
-- One body: wrk's static request (fastest). Several: taken in turn, one per request.
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer bench-token",
  ["User-Agent"] = "qwen-bench/1",
}

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
