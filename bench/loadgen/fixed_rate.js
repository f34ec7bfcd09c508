// Fixed-rate load of bench/ingest_vs_reference.py (wrk2-style: autocannon's overallRate, latency
// corrected for coordinated omission): signed Shopify webhooks, a new webhook id and event id on
// every request, at RATE per second for DURATION seconds; a request unanswered within 5 s (what
// Shopify waits) counts as not answered, and so does one the generator could not send at its
// time because every connection was still waiting for an answer.
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

const headers = {
  'Content-Type': 'application/json',
  'X-Shopify-Topic': process.env.WEBHOOK_TOPIC || 'orders/create',
  'X-Shopify-Hmac-Sha256': process.env.WEBHOOK_HMAC,
  'X-Shopify-Shop-Domain': process.env.WEBHOOK_SHOP,
  'X-Shopify-API-Version': '2025-07',
  'X-Shopify-Triggered-At': '2026-11-28T10:00:00.000Z'
}

autocannon(
  {
    url,
    method: 'POST',
    connections: Number(process.env.CONNECTIONS || 64),
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
    const latency = result.latency
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
          latency_ms: {
            p50: latency.p50,
            p90: latency.p90,
            p99: latency.p99,
            max: latency.max,
            mean: latency.average
          }
        }) +
        '\n'
    )
  }
)
