-- wrk script: POST a body file with headers given after it, print a JSON summary line.
--   wrk -t1 -c8 -d15s -s bench/post_headers.lua URL -- body.bin "Content-Type: application/json" \
--       "Inference-Header-Content-Length: 512"
-- (bench/runtime.py --large uses it for V2 JSON and V2 binary bodies.)

function init(args)
   local f = assert(io.open(args[1], "rb"))
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   for i = 2, #args do
      local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
      wrk.headers[name] = value
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p90_us\": %d, " ..
      "\"p99_us\": %d, \"max_us\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, " ..
      "\"status\": %d, \"timeout\": %d}\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
