// Fixed-rate load of bench/ingest_vs_reference.py without autocannon's per-second bursts
// (--rate-schedule smooth or poisson): the same signed webhooks as fixed_rate.js, RATE a second
// on average, over a keep-alive pool of at most CONNECTIONS sockets (node's http.Agent; a request
// due while every socket waits for an answer queues in the agent); a timer every 1 ms sends what
// is due. ARRIVALS=even (smooth): one every 1000 / RATE ms. ARRIVALS=poisson: independent
// arrivals, the gaps drawn from an exponential distribution of mean 1000 / RATE ms by a PRNG
// seeded with SEED (the same schedule for both endpoints of a run), as many senders that do not
// coordinate (many shops' webhooks) arrive. A request unanswered within 5 s counts as not
// answered. Printed, like fixed_rate.js (latency in ms):
// - latency_ms: from the request's intended send time (coordinated omission included: a
//   request that waited for a socket counts that wait);
// - latency_ms_uncorrected: from the moment it got its socket (comparable with the
//   server-side figure).
//
//   WEBHOOK_BODY_FILE=body.json WEBHOOK_HMAC=... WEBHOOK_SHOP=x.myshopify.com RATE=1000 \
//   DURATION=20 CONNECTIONS=64 node smooth_rate.js http://127.0.0.1:18080/webhooks/shopify
'use strict'

const fs = require('fs')
const http = require('http')
const url = new URL(process.argv[2])
const body = fs.readFileSync(process.env.WEBHOOK_BODY_FILE)
const rate = Number(process.env.RATE || 1000)
const duration = Number(process.env.DURATION || 20)
const conns = Number(process.env.CONNECTIONS || 64)
const prefix = process.env.WEBHOOK_ID_PREFIX || 'rate'
const agent = new http.Agent({ keepAlive: true, maxSockets: conns })
const base = {
  'Content-Type': 'application/json',
  'Content-Length': body.length,
  'X-Shopify-Topic': 'orders/create',
  'X-Shopify-Hmac-Sha256': process.env.WEBHOOK_HMAC,
  'X-Shopify-Shop-Domain': process.env.WEBHOOK_SHOP,
  'X-Shopify-API-Version': '2025-07',
  'X-Shopify-Triggered-At': '2026-11-28T10:00:00.000Z'
}
const total = Math.round(rate * duration)
const arrivals = process.env.ARRIVALS || 'even'
const intendedAt = schedule()
let sent = 0; let ok = 0; let okWithin5s = 0; let other = 0; let errors = 0; let timeouts = 0
let settled = 0
const fromIntended = []; const fromSocket = []
const start = process.hrtime.bigint()
const nowMs = () => Number(process.hrtime.bigint() - start) / 1e6
function schedule () {
  const at = new Float64Array(total)
  if (arrivals === 'even') {
    for (let i = 0; i < total; i++) at[i] = (i * 1000) / rate
    return at
  }
  if (arrivals !== 'poisson') throw new Error(`ARRIVALS must be even or poisson, not ${arrivals}`)
  let seed = Number(process.env.SEED || 1) >>> 0
  const random = () => { // mulberry32: a small seeded PRNG, uniform in [0, 1)
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  let now = 0
  for (let i = 0; i < total; i++) {
    now += (-Math.log(1 - random()) * 1000) / rate
    at[i] = now
  }
  return at
}
function summarise (a) {
  const s = a.slice().sort((x, y) => x - y)
  if (!s.length) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
  const at = (p) => Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10
  return { p50: at(50), p90: at(90), p99: at(99), max: at(100), mean: Math.round(s.reduce((x, y) => x + y, 0) / s.length * 10) / 10 }
}
function done () {
  settled++
  if (sent === total && settled === total) finish()
}
function send (i) {
  const intended = intendedAt[i]
  const id = `${prefix}-${i + 1}`
  let socketAt = null
  const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...base, 'X-Shopify-Webhook-Id': `wh-${id}`, 'X-Shopify-Event-Id': `ev-${id}` }, timeout: 5000 })
  req.on('socket', () => { socketAt = nowMs() })
  req.on('response', (res) => {
    res.resume()
    res.on('end', () => {
      const t = nowMs()
      if (res.statusCode >= 200 && res.statusCode < 300) {
        ok++
        if (t - intended <= 5000) okWithin5s++ // from when it was due, socket wait included
        fromIntended.push(t - intended)
        fromSocket.push(t - socketAt)
      } else other++
      done()
    })
  })
  req.on('timeout', () => { timeouts++; req.destroy(new Error('timeout')) }) // then 'error'
  req.on('error', () => { errors++; done() })
  req.end(body)
}
function tick () {
  const now = nowMs()
  while (sent < total && intendedAt[sent] <= now) { send(sent); sent++ }
  if (sent < total) setTimeout(tick, 1)
}
function finish () {
  const seconds = Math.round(nowMs() / 10) / 100
  const latency = summarise(fromIntended)
  process.stdout.write('RATE_JSON ' + JSON.stringify({
    target_rate: rate, arrivals, seconds, sent, answered_2xx: ok, answered_other: other, timeouts, errors,
    achieved_rate: Math.round(((ok + other) / duration) * 10) / 10, intended: total,
    share_answered_within_5s: Math.round((okWithin5s / total) * 10000) / 10000,
    latency_ms: latency,
    latency_ms_uncorrected: summarise(fromSocket)
  }) + '\n')
  agent.destroy() // closes the kept-alive sockets, so node exits
}
tick()
