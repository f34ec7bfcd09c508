-- wrk script of bench/ingest_vs_reference.py: signed Shopify webhooks, a new webhook id and event
-- id on every request. Shopify's HMAC covers the body only, so one body signed once (by the
-- driver) serves every request; the ids are headers.
--
--   WEBHOOK_BODY_FILE=body.json WEBHOOK_HMAC=... WEBHOOK_SHOP=x.myshopify.com \
--   WEBHOOK_ID_PREFIX=run1 wrk -t1 -c32 -d20s -s webhooks.lua http://127.0.0.1:18080
--
-- done() prints one JSON line starting with "WRK_JSON " (statuses, latency in microseconds).

local threads = {}
local counter = 0
statuses = {} -- a global: done() reads it from each thread
local headers = {}
local body
local prefix

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(os.getenv("WEBHOOK_BODY_FILE"), "rb"))
  body = file:read("*a")
  file:close()
  prefix = (os.getenv("WEBHOOK_ID_PREFIX") or "wrk") .. "-" .. tostring(thread_no or 0) .. "-"
  headers["Content-Type"] = "application/json"
  headers["X-Shopify-Topic"] = os.getenv("WEBHOOK_TOPIC") or "orders/create"
  headers["X-Shopify-Hmac-Sha256"] = os.getenv("WEBHOOK_HMAC")
  headers["X-Shopify-Shop-Domain"] = os.getenv("WEBHOOK_SHOP")
  headers["X-Shopify-API-Version"] = "2025-07"
  headers["X-Shopify-Triggered-At"] = "2026-11-28T10:00:00.000Z"
end

function request()
  counter = counter + 1
  local id = prefix .. counter
  headers["X-Shopify-Webhook-Id"] = "wh-" .. id
  headers["X-Shopify-Event-Id"] = "ev-" .. id
  return wrk.format("POST", "/webhooks/shopify", headers, body)
end

function response(status, _headers, _body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for status, count in pairs(seen) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us": %d, "requests": %d, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration, summary.requests, table.concat(parts, ", "),
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
