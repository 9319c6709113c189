-- wrk script: POSTs the JSON bodies in the files named by BENCH_BODIES (";"-separated).
-- One body: wrk's static request (fastest). Several: taken in turn, one per request.
-- The headers a coding agent's requests carry: those the official `openai` npm client (7.57.0,
-- which Qwen Code is built on) sent from Node 20, as captured in this repo; wrk adds Host and
-- Content-Length. A pass-through forwards them all; qwen reads a few and sends its own set.
local headers = {
  ["Connection"] = "keep-alive",
  ["Accept"] = "application/json",
  ["User-Agent"] = "OpenAI/JS 7.57.0",
  ["X-Stainless-Retry-Count"] = "0",
  ["X-Stainless-Lang"] = "js",
  ["X-Stainless-Package-Version"] = "7.57.0",
  ["X-Stainless-OS"] = "Linux",
  ["X-Stainless-Arch"] = "x64",
  ["X-Stainless-Runtime"] = "node",
  ["X-Stainless-Runtime-Version"] = "v20.20.2",
  ["Authorization"] = "Bearer bench-token",
  ["Content-Type"] = "application/json",
  ["Accept-Language"] = "*",
  ["Sec-Fetch-Mode"] = "cors",
  ["Accept-Encoding"] = "gzip, deflate",
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
