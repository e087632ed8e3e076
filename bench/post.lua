-- wrk script: POST one JSON body (read from the file named after `--`) and print a
-- JSON summary line that bench/runtime.py parses.
--   wrk -t1 -c64 -d15s -s bench/post.lua http://127.0.0.1:8080/predict -- body.json

function init(args)
   local f = assert(io.open(args[1], "rb"))
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
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
