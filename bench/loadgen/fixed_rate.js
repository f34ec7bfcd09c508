// Fixed-rate load of bench/ingest_vs_reference.py (wrk2-style: autocannon's overallRate): signed
// Shopify webhooks, a new webhook id and event id on every request, at RATE per second for
// DURATION seconds; a request unanswered within 5 s (what Shopify waits) counts as not answered,
// and so does one the generator could not send at its time because every connection was still
// waiting for an answer.
//
// Latency is computed here from every 2xx answer's time (autocannon's 'response' event, in
// fractional ms), not taken from autocannon's histogram: autocannon 9 corrects for coordinated
// omission with an expected interval of ceil(1 / per-connection rate) = 1 ms (seconds taken
// for milliseconds), so an answer of T ms also records T-1, T-2, ... 1 ms: its percentiles are
// those of another distribution (each answer counted T times, spread over 1..T ms), the p50
// pulled down (35 -> 19 ms) and the p99 moved either way. Printed:
// - latency_ms: corrected for coordinated omission with the real per-connection interval
//   (CONNECTIONS / RATE s): an answer slower than it also records the sends it held up;
// - latency_ms_uncorrected: the answers' own times (comparable with the server-side figure);
// - latency_ms_autocannon: autocannon's own (1 ms interval) figure, this morning's readings.
//
//   WEBHOOK_BODY_FILE=body.json WEBHOOK_HMAC=... WEBHOOK_SHOP=x.myshopify.com RATE=1000 \
//   DURATION=20 CONNECTIONS=64 node fixed_rate.js http://127.0.0.1:18080/webhooks/shopify
//
// Prints one JSON line starting with "RATE_JSON " (latency in milliseconds).
'use strict'

const fs = require('fs')
const autocannon = require('autocannon')

const url = process.argv[2]
const body = fs.readFileSync(process.env.WEBHOOK_BODY_FILE)
const rate = Number(process.env.RATE || 1000)
const duration = Number(process.env.DURATION || 20)
const prefix = process.env.WEBHOOK_ID_PREFIX || 'rate'
const timeoutSeconds = 5
let counter = 0
const connections = Number(process.env.CONNECTIONS || 64)
const answerTimes = []

const headers = {
  'Content-Type': 'application/json',
  'X-Shopify-Topic': process.env.WEBHOOK_TOPIC || 'orders/create',
  'X-Shopify-Hmac-Sha256': process.env.WEBHOOK_HMAC,
  'X-Shopify-Shop-Domain': process.env.WEBHOOK_SHOP,
  'X-Shopify-API-Version': '2025-07',
  'X-Shopify-Triggered-At': '2026-11-28T10:00:00.000Z'
}

// Percentiles (nearest rank) of sorted values, rounded to 0.1 ms.
function summarise (sorted) {
  if (sorted.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
  const at = (p) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 10) / 10
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length
  return { p50: at(50), p90: at(90), p99: at(99), max: at(100), mean: Math.round(mean * 10) / 10 }
}

// HdrHistogram's recordValueWithExpectedInterval: an answer slower than the interval at which
// its connection should have sent also stands for the sends it held up.
function corrected (times, intervalMs) {
  const all = []
  for (const time of times) {
    all.push(time)
    for (let missed = time - intervalMs; missed >= intervalMs; missed -= intervalMs) all.push(missed)
  }
  return all.sort((a, b) => a - b)
}

const instance = autocannon(
  {
    url,
    method: 'POST',
    connections,
    duration,
    overallRate: rate,
    timeout: timeoutSeconds,
    requests: [
      {
        setupRequest: (request) => {
          counter += 1
          const id = `${prefix}-${counter}`
          request.headers = {
            ...headers,
            'X-Shopify-Webhook-Id': `wh-${id}`,
            'X-Shopify-Event-Id': `ev-${id}`
          }
          request.body = body
          return request
        }
      }
    ]
  },
  (error, result) => {
    if (error) {
      console.error(error)
      process.exit(1)
    }
    const answered = result['2xx'] + result.non2xx
    const sent = answered + result.errors // errors include timeouts
    // Requests the fixed rate asked for: one the generator could not even send (every
    // connection still waiting) was not answered within 5 s either.
    const intended = Math.max(sent, Math.round(rate * duration))
    const raw = answerTimes.slice().sort((a, b) => a - b)
    const intervalMs = (1000 * Math.min(connections, rate)) / rate
    process.stdout.write(
      'RATE_JSON ' +
        JSON.stringify({
          target_rate: rate,
          seconds: result.duration,
          sent,
          answered_2xx: result['2xx'],
          answered_other: result.non2xx,
          timeouts: result.timeouts,
          errors: result.errors,
          achieved_rate: Math.round((answered / result.duration) * 10) / 10,
          intended,
          share_answered_within_5s: Math.round((result['2xx'] / intended) * 10000) / 10000,
          latency_ms: summarise(corrected(raw, intervalMs)),
          latency_ms_uncorrected: summarise(raw),
          latency_ms_autocannon: {
            p50: result.latency.p50,
            p90: result.latency.p90,
            p99: result.latency.p99,
            max: result.latency.max,
            mean: result.latency.average
          },
          coordinated_omission_interval_ms: Math.round(intervalMs * 10) / 10
        }) +
        '\n'
    )
  }
)

instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  if (statusCode >= 200 && statusCode < 300) answerTimes.push(responseTime)
})
