// openload: HTTP/1.1 requests at a fixed arrival rate (an open model), each timed from the
// moment it was due, not from when a connection was free to send it.
//
// Closed-loop tools (h2load --rps, Locust, autocannon) send a client's next request only after
// its previous answer, so while a server stalls they send less and never time the requests
// that should have been waiting: coordinated omission. Here request k is due at
// start + k / rate whatever happened before; it waits in a queue for one of a fixed pool of
// keep-alive connections, and that wait is part of its latency.
//
// With --rate 0 it is a closed loop instead (every connection sends its next request as soon
// as it is answered), which measures the highest rate a server answers: the scale the fixed
// rates are chosen from.
//
// With --body-bytes N each request is a POST of an N-byte application/octet-stream body (an
// upload), the same bytes every time; without it, a GET.
//
// Standard library only (node:net), so nothing is downloaded to run it. Prints one JSON
// object on stdout; writes the latency of every answered request of the measured window, in
// milliseconds, one per line, to --log; with --records, one line per request due in the
// window: "due sent done outcome port", the first three in milliseconds from the window's start
// (sent and done "-" when it never was), the outcome an HTTP status or how it failed (errored,
// timed_out, unanswered), and the local port of the connection it was sent on ("-" if none),
// so that a reader can follow the run request by request and connection by connection.

import net from 'node:net'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    rate: { type: 'string', default: '0' }, // requests per second; 0: closed loop
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '1' }, // seconds at the rate before the measured window
    duration: { type: 'string', default: '5' }, // seconds of the measured window
    drain: { type: 'string', default: '10' }, // seconds to wait for the window's answers
    timeout: { type: 'string', default: '10' }, // seconds before a sent request is given up
    'body-bytes': { type: 'string', default: '0' }, // > 0: a POST with a body of this size
    log: { type: 'string' },
    records: { type: 'string' }
  }
})

const url = new URL(options.url)
if (url.protocol !== 'http:') throw new Error(`only http:// URLs are supported, not ${url}`)
const host = url.hostname
const port = Number(url.port || 80)
const rate = Number(options.rate)
const connectionCount = Number(options.connections)
const warmupMs = Number(options.warmup) * 1000
const durationMs = Number(options.duration) * 1000
const drainMs = Number(options.drain) * 1000
const timeoutMs = Number(options.timeout) * 1000
const RECONNECT_DELAY_MS = 50
const SPIN_BEFORE_MS = 1.5
const bodyBytes = Number(options['body-bytes'])
const REQUEST = Buffer.concat([
  Buffer.from(
    `${bodyBytes > 0 ? 'POST' : 'GET'} ${url.pathname}${url.search} HTTP/1.1\r\n` +
    `Host: ${url.host}\r\nUser-Agent: serving-django-openload\r\nAccept: */*\r\n` +
    (bodyBytes > 0
      ? `Content-Type: application/octet-stream\r\nContent-Length: ${bodyBytes}\r\n`
      : '') +
    '\r\n'
  ),
  Buffer.alloc(bodyBytes, 'x')
])

let start = 0 // performance.now() of the first due request
let windowStart = 0
let windowEnd = 0
const queue = [] // due times (ms) of requests waiting for a free connection
let queueHead = 0
let nextIndex = 0
let schedulingDone = false
let finished = false
const connections = []

const counts = {
  scheduled: 0, // due inside the measured window
  answered: 0, // ... and answered with 2xx or 3xx
  non2xx: 0,
  errored: 0, // the connection failed while the request was sent or awaited
  timed_out: 0,
  answered_in_window: 0, // 2xx/3xx answers that arrived inside the window, whenever due
  connect_errors: 0,
  connections_lost: 0 // closed by the server while in use, or while idle
}
const statuses = {}
const latencies = [] // ms, answered requests due inside the window
// ms from due to taken into the queue, requests due inside the window: the generator's own
// delay (its timer's lateness), part of every latency it reports; nothing of the server's.
const lags = []
let unresolved = 0 // requests due inside the window not yet answered or failed
const records = [] // [due, sent, done, outcome, port] of requests due in the window (--records)

// A due time computed as start + k * interval can land a rounding error away from a window
// edge; the margin puts such a request on the same side every time (the window holds exactly
// rate x duration requests).
const EDGE_MS = 1e-6
const inWindow = (due) => due >= windowStart - EDGE_MS && due < windowEnd - EDGE_MS

function resolve (due, now, status, sentAt, port, failure = null) {
  const measured = inWindow(due)
  if (status !== null) statuses[status] = (statuses[status] || 0) + 1
  const answered = status !== null && status >= 200 && status < 400
  if (answered && now >= windowStart && now < windowEnd) counts.answered_in_window++
  if (!measured) return
  unresolved--
  if (options.records) records.push([due, sentAt, now, status !== null ? status : failure, port])
  if (answered) {
    counts.answered++
    latencies.push(now - due)
  } else if (status !== null) {
    counts.non2xx++
  }
  maybeFinish()
}

// One slot of the pool. A slot opens its connection only when a request is waiting for one
// (and keeps it open while the server keeps it alive), as a client's connection pool does: an
// idle connection opened in advance would hold a one-connection-at-a-time worker (Gunicorn's
// sync worker reads the request of the connection it accepted) while requests on other
// connections wait, which no real client causes.
class Connection {
  constructor () {
    this.socket = null
    this.ready = false
    this.due = null // due time of the request in flight, if any
    this.sentAt = 0
    this.retryAt = 0 // after a failed connection attempt, the slot waits until then
    this.port = null // the local port of its connection, once connected
  }

  connect () {
    this.ready = false
    this.buffer = Buffer.alloc(0)
    this.response = null
    const socket = net.connect({ host, port })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('connect', () => {
      if (this.socket !== socket) return
      this.port = socket.localPort
      this.ready = true
      dispatch()
    })
    socket.on('data', (chunk) => { if (this.socket === socket) this.received(chunk) })
    socket.on('error', () => {})
    socket.on('close', () => { if (this.socket === socket) this.lost(socket) })
  }

  lost (socket) {
    // A close-delimited body ends with the connection.
    if (this.response && this.response.untilClose) return this.complete(socket, true)
    if (this.ready || this.due !== null) counts.connections_lost++
    else {
      counts.connect_errors++
      this.retryAt = performance.now() + RECONNECT_DELAY_MS
    }
    if (this.due !== null) this.fail('errored')
    this.socket = null
    this.ready = false
    if (!finished) setTimeout(dispatch, RECONNECT_DELAY_MS)
  }

  connecting () {
    return this.socket !== null && !this.ready
  }

  idle () {
    return this.ready && this.due === null
  }

  fail (kind) {
    const due = this.due
    this.due = null
    this.response = null
    if (inWindow(due)) counts[kind]++
    resolve(due, performance.now(), null, this.sentAt, this.port, kind)
  }

  send (due) {
    this.due = due
    this.sentAt = performance.now()
    this.socket.write(REQUEST)
  }

  received (chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk
    if (!this.response) {
      const end = this.buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = this.buffer.subarray(0, end).toString('latin1').split('\r\n')
      const status = Number(head[0].split(' ')[1])
      const headers = {}
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':')
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      this.buffer = this.buffer.subarray(end + 4)
      const chunked = (headers['transfer-encoding'] || '').toLowerCase().includes('chunked')
      const bodiless = status === 204 || status === 304 || (status >= 100 && status < 200)
      this.response = {
        status,
        close: (headers.connection || '').toLowerCase() === 'close',
        length: bodiless ? 0 : (chunked ? null : (headers['content-length'] !== undefined ? Number(headers['content-length']) : null)),
        chunked: chunked && !bodiless,
        untilClose: !bodiless && !chunked && headers['content-length'] === undefined
      }
    }
    if (this.response.untilClose) return // complete when the connection closes
    if (this.response.chunked ? chunkedBodyEnd(this.buffer) : this.buffer.length >= this.response.length) {
      this.complete(this.socket, this.response.close)
    }
  }

  complete (socket, close) {
    const { status } = this.response
    const due = this.due
    this.due = null
    this.response = null
    this.buffer = Buffer.alloc(0)
    resolve(due, performance.now(), status, this.sentAt, this.port)
    if (close) {
      this.ready = false
      this.socket = null
      socket.destroy()
    }
    dispatch()
  }
}

// Whether a chunked body is complete: walks the chunk sizes to the zero-size chunk.
function chunkedBodyEnd (buffer) {
  let offset = 0
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', offset)
    if (lineEnd < 0) return false
    const size = parseInt(buffer.subarray(offset, lineEnd).toString('latin1'), 16)
    if (Number.isNaN(size)) return true // malformed: count it as ended rather than wait
    if (size === 0) return buffer.indexOf('\r\n\r\n', lineEnd) >= 0 || buffer.length >= lineEnd + 4
    offset = lineEnd + 2 + size + 2
    if (buffer.length < offset) return false
  }
}

function enqueueDue (now) {
  if (rate <= 0) return
  const interval = 1000 / rate
  for (;;) {
    const due = start + nextIndex * interval
    if (due >= windowEnd - EDGE_MS) { schedulingDone = true; return }
    if (due > now) return
    queue.push(due)
    if (inWindow(due)) { counts.scheduled++; unresolved++; lags.push(now - due) }
    nextIndex++
  }
}

function dispatch () {
  if (finished || start === 0) return
  const now = performance.now()
  const closedLoop = rate <= 0
  if (closedLoop && now >= windowEnd) schedulingDone = true
  // Requests waiting for a connection; a closed loop always has one for every connection.
  let waiting = closedLoop ? (now < windowEnd ? Infinity : 0) : queue.length - queueHead
  for (const connection of connections) {
    if (waiting <= 0) break
    if (!connection.idle()) continue
    if (closedLoop) {
      if (inWindow(now)) { counts.scheduled++; unresolved++ }
      connection.send(now) // closed loop: due when sent
    } else {
      connection.send(queue[queueHead++])
    }
    waiting--
  }
  // Open connections for the requests still waiting, counting those already being opened.
  for (const connection of connections) {
    if (waiting <= 0) break
    if (connection.connecting()) waiting--
    else if (connection.socket === null && connection.retryAt <= now) { connection.connect(); waiting-- }
  }
  if (queueHead > 4096 && queueHead * 2 > queue.length) { queue.splice(0, queueHead); queueHead = 0 }
}

function tick () {
  if (finished) return
  const now = performance.now()
  enqueueDue(now)
  dispatch()
  if (!schedulingDone && rate > 0) {
    // Timers fire a millisecond late or more, and that lateness would be charged to every
    // request (latency runs from the due time): sleep until about a millisecond before the
    // next request is due, then poll the event loop until it is. The generator has its own
    // CPU, so the polling costs the server nothing; answers are still read between polls.
    const wait = start + nextIndex * (1000 / rate) - performance.now()
    if (wait > SPIN_BEFORE_MS) setTimeout(tick, wait - SPIN_BEFORE_MS)
    else setImmediate(tick)
  }
}

function checkTimeouts () {
  const now = performance.now()
  for (const connection of connections) {
    if (connection.due !== null && now - connection.sentAt > timeoutMs && connection.socket) {
      const socket = connection.socket
      connection.socket = null
      connection.ready = false
      connection.fail('timed_out')
      socket.destroy()
    }
  }
  dispatch()
  if (rate <= 0 && now >= windowEnd) schedulingDone = true
  maybeFinish(now)
}

function maybeFinish (now = performance.now()) {
  if (finished || start === 0 || now < windowEnd || !schedulingDone) return
  if (unresolved > 0 && now < windowEnd + drainMs) return
  finish(now)
}

function percentile (sorted, share) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] : null
}

// One line per request due in the window (see the header); those still waiting in the queue
// or in flight when the run ends are "unanswered".
function writeRecords (path) {
  const since = (ms) => (ms === null ? '-' : (ms - windowStart).toFixed(3))
  const lines = records.map(([due, sent, done, outcome, port]) => `${since(due)} ${since(sent)} ${since(done)} ${outcome} ${port ?? '-'}`)
  for (const connection of connections) {
    if (connection.due !== null && inWindow(connection.due)) lines.push(`${since(connection.due)} ${since(connection.sentAt)} - unanswered ${connection.port ?? '-'}`)
  }
  for (let index = queueHead; index < queue.length; index++) {
    if (inWindow(queue[index])) lines.push(`${since(queue[index])} - - unanswered -`)
  }
  writeFileSync(path, lines.join('\n') + '\n')
}

function finish (now) {
  finished = true
  if (options.records) writeRecords(options.records)
  for (const connection of connections) if (connection.socket) connection.socket.destroy()
  if (options.log) writeFileSync(options.log, latencies.map((ms) => ms.toFixed(3)).join('\n') + '\n')
  lags.sort((a, b) => a - b)
  const result = {
    tool: 'openload',
    mode: rate > 0 ? 'open' : 'closed',
    target_rate: rate,
    connections: connectionCount,
    warmup_s: warmupMs / 1000,
    duration_s: durationMs / 1000,
    drain_s: drainMs / 1000,
    timeout_s: timeoutMs / 1000,
    body_bytes: bodyBytes,
    ...counts,
    unanswered: Math.max(0, unresolved),
    statuses,
    lag_p50_ms: percentile(lags, 0.5),
    lag_p99_ms: percentile(lags, 0.99),
    lag_max_ms: lags.length ? lags[lags.length - 1] : null,
    waited_for_answers_s: Math.max(0, now - windowEnd) / 1000,
    // The window's start on the wall clock, so that events timed elsewhere can be placed on
    // the records' time line.
    window_start_unix_ms: performance.timeOrigin + windowStart
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}

for (let i = 0; i < connectionCount; i++) connections.push(new Connection())
start = performance.now()
windowStart = start + warmupMs
windowEnd = windowStart + durationMs
setInterval(checkTimeouts, 50)
if (rate > 0) tick()
else dispatch()
