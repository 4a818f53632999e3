// js-libp2p comparison peer for the Kizuna benchmarks: libp2p's perf protocol
// (/perf/1.0.0) over TCP + Noise + Yamux, QUIC (@chainsafe/libp2p-quic) and
// plain WebSockets + Noise + Yamux. Run it with Node 22 or later (the
// itests/bench/libp2p-perf wrapper installs and uses one).
//
//   server --listen IP [--tcp-port P] [--quic-port Q] [--ws-port W] --key-file F
//          [--timeout-seconds S] [--lifetime-seconds L] [--max-bytes B] [--log-streams]
//     Listens on IP, v4 or v6 (ports default to 0: chosen by the kernel). F holds the
//     Ed25519 private key (libp2p protobuf); it is created when missing, so the
//     PeerId stays the same across starts. When ready it prints one line:
//       {"ready":true,"peerId":"12D3...","addrs":["/ip4/.../tcp/P/p2p/12D3...", ...]}
//     It serves perf streams until SIGTERM/SIGINT or L seconds (default 3600).
//     A stream that uploads or asks back more than B bytes (default 64 GiB) is
//     reset, and reported on stderr. With --log-streams it prints
//     {"served":true,"transport":..,"receivedBytes":..,"sentBytes":..} per stream
//     (whoever starts it with that flag must keep reading its stdout). S bounds
//     each served stream (default 600). Diagnostics go to stderr.
//
//   client --server MULTIADDR --upload BYTES --download BYTES --runs N
//          [--timeout-seconds S]
//     Per run: a fresh connection; connectMs is the time from the start of the
//     dial until a first perf request of 1 byte up and 1 byte down on it has
//     completed; then one perf stream uploads BYTES (nothing back) and one
//     downloads BYTES (nothing up), each timed from opening its stream until the
//     server has closed its side. Prints one line per run:
//       {"transport":"tcp|quic|ws","run":i,"connectMs":..,"uploadBytes":..,
//        "uploadSeconds":..,"downloadBytes":..,"downloadSeconds":..}
//     (or {"transport":..,"run":i,"error":".."}) and then a summary line with
//     the medians. Each run is aborted after S seconds (default 120). Exits 0
//     when every run moved every byte, 1 otherwise, 2 on bad arguments. Over
//     QUIC a stream reset by the server reads as a clean end (the library
//     does not tell them apart), so an upload the server gave up on within the
//     last flow-control window goes unnoticed by the client: the server's
//     --log-streams counts are the check for that.
//
//   selftest [--bytes B] [--runs N] [--timeout-seconds S]
//     Starts a server on 127.0.0.1 and runs the client against each of its three
//     addresses (B each way, default 3 MiB + 17 up and 5 MiB + 3 down; N runs,
//     default 2); checks the byte counts at both ends, that a dial expecting
//     another PeerId is refused on each transport, and that a restart with the
//     same key file keeps the PeerId. Prints the client lines; exits 0 only if
//     all of that holds.
//
// Perf protocol: the client sends the number of bytes it wants back as an 8-byte
// big-endian integer, then its upload in 64 KiB chunks, then closes its write
// side; the server counts what it reads until then, sends the requested bytes
// and closes. Streams are read through 'message'/'end' events rather than async
// iteration, which can miss an end that arrives during protocol negotiation; a
// sender lets at most 1 MiB queue in a stream. All transports use the libraries'
// default settings. Congestion control: the kernel default of the network
// namespace for TCP and WebSockets (net.ipv4.tcp_congestion_control; neither
// library sets TCP_CONGESTION), quinn's default (Cubic) for QUIC, which
// @chainsafe/libp2p-quic does not expose as an option. The client's summary line
// names the one in use as "congestionControl".

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const PROTOCOL = '/perf/1.0.0'
const CHUNK = new Uint8Array(64 * 1024)
const HEADER_LENGTH = 8
/** Bytes a sender lets queue in a stream before it waits for the stream to drain. */
const MAX_QUEUED = 1024 * 1024

class UsageError extends Error {}

function parseArgs (argv, spec) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`)
    const name = arg.slice(2)
    const kind = spec[name]
    if (kind == null) throw new UsageError(`unknown option '${arg}'`)
    if (kind === 'flag') {
      out[name] = true
      continue
    }
    if (i + 1 >= argv.length) throw new UsageError(`option '${arg}' needs a value`)
    const value = argv[++i]
    out[name] = kind === 'string' ? value : parseCount(arg, value)
  }
  return out
}

function parseCount (option, value) {
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`option '${option}' needs a whole number, not '${value}'`)
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new UsageError(`option '${option}' value ${value} is too large`)
  return n
}

function need (opts, name) {
  if (opts[name] == null) throw new UsageError(`option '--${name}' is required`)
  return opts[name]
}

function print (record) {
  process.stdout.write(JSON.stringify(record) + '\n')
}

function log (message) {
  process.stderr.write(`libp2p-perf: ${message}\n`)
}

function transportOf (addr) {
  const text = addr.toString()
  if (text.includes('/quic-v1')) return 'quic'
  if (/\/wss?(\/|$)/.test(text)) return 'ws'
  return 'tcp'
}

/**
 * The benchmark dials a fresh connection per run, back to back from one host, over three transports: well
 * over js-libp2p's default limit of 5 new inbound connections per second per host
 * (connectionManager.inboundConnectionThreshold, a rate limiter with a 1 s window). Past it the server
 * closes the new connection while protocols are still being negotiated, and the client reads that as
 * "Unexpected EOF - stream closed while reading 0/1 bytes" (WebSockets), ECONNRESET (TCP) or "closed by
 * peer: 0" (QUIC). The library behaves as documented; this peer serves one benchmark client, so its limit
 * is raised well above what a run dials (still bounded).
 */
const INBOUND_CONNECTIONS_PER_SECOND = 1000

function nodeOptions (privateKey, listen) {
  return {
    privateKey,
    addresses: { listen },
    transports: [tcp(), quic(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND }
  }
}

/** Reads a stream until the remote closes its write side; onData sees every chunk. */
function readToEnd (stream, signal, onData) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('end', onEnd)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const onMessage = (evt) => {
      try {
        onData(evt.data)
      } catch (err) {
        cleanup()
        stream.abort(err)
        reject(err)
      }
    }
    const onEnd = () => {
      cleanup()
      if (stream.status === 'reset') reject(new Error('stream reset by the remote peer'))
      else resolve()
    }
    const onClose = (evt) => {
      cleanup()
      if (evt.error != null) reject(evt.error)
      else resolve()
    }
    const onAbort = () => { cleanup(); reject(signal.reason) }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('end', onEnd)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
    if (signal.aborted) onAbort()
    else if (stream.readableEnded) onEnd()
  })
}

/**
 * Sends `bytes` zero bytes in 64 KiB chunks, keeping at most MAX_QUEUED bytes
 * queued in the stream. Waiting on stream.onDrain() would not bound it: in
 * @libp2p/utils 7 that promise stays resolved after the first drain.
 */
async function sendBytes (stream, bytes, signal) {
  let left = bytes
  while (left > 0) {
    signal.throwIfAborted()
    const len = Math.min(CHUNK.byteLength, left)
    stream.send(len === CHUNK.byteLength ? CHUNK : CHUNK.subarray(0, len))
    left -= len
    while (stream.writeBufferLength >= MAX_QUEUED) await nextWriteProgress(stream, signal)
  }
}

/** Resolves at the stream's next 'drain' or 'idle'; rejects when it closes or the signal aborts. */
function nextWriteProgress (stream, signal) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('drain', onProgress)
      stream.removeEventListener('idle', onProgress)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const onProgress = () => { cleanup(); resolve() }
    const onClose = (evt) => { cleanup(); reject(evt.error ?? new Error('stream closed while sending')) }
    const onAbort = () => { cleanup(); reject(signal.reason) }
    stream.addEventListener('drain', onProgress)
    stream.addEventListener('idle', onProgress)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
    if (signal.aborted) onAbort()
    else if (stream.writeBufferLength < MAX_QUEUED) onProgress()
  })
}

function header (bytes) {
  const buf = new Uint8Array(HEADER_LENGTH)
  new DataView(buf.buffer).setBigUint64(0, BigInt(bytes))
  return buf
}

// ---------------------------------------------------------------- server

async function server (argv) {
  const opts = parseArgs(argv, {
    listen: 'string',
    'tcp-port': 'count',
    'quic-port': 'count',
    'ws-port': 'count',
    'key-file': 'string',
    'timeout-seconds': 'count',
    'lifetime-seconds': 'count',
    'max-bytes': 'count',
    'log-streams': 'flag'
  })
  const ip = need(opts, 'listen')
  const keyFile = need(opts, 'key-file')
  const timeoutMs = (opts['timeout-seconds'] ?? 600) * 1000
  const lifetimeMs = (opts['lifetime-seconds'] ?? 3600) * 1000
  const maxBytes = opts['max-bytes'] ?? 64 * 2 ** 30
  const family = ip.includes(':') ? 'ip6' : 'ip4'
  for (const p of ['tcp-port', 'quic-port', 'ws-port']) {
    if ((opts[p] ?? 0) > 65535) throw new UsageError(`option '--${p}' must be a port number`)
  }
  const listen = [
    `/${family}/${ip}/tcp/${opts['tcp-port'] ?? 0}`,
    `/${family}/${ip}/udp/${opts['quic-port'] ?? 0}/quic-v1`,
    `/${family}/${ip}/tcp/${opts['ws-port'] ?? 0}/ws`
  ]

  const node = await createLibp2p(nodeOptions(await loadOrCreateKey(keyFile), listen))
  await node.handle(PROTOCOL, (stream, connection) => {
    serveStream(stream, connection, { timeoutMs, maxBytes, logStreams: opts['log-streams'] === true })
  }, { maxInboundStreams: 16 })

  let stopping = false
  const stop = async (why) => {
    if (stopping) return
    stopping = true
    log(`server stopping: ${why}`)
    await node.stop().catch((err) => log(`stop failed: ${err.message}`))
    process.exit(0)
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  setTimeout(() => { stop(`lifetime of ${lifetimeMs / 1000} s reached`) }, lifetimeMs).unref()
  // keeps the event loop alive until a signal or the lifetime ends
  setInterval(() => {}, 1 << 30)

  print({ ready: true, peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map((a) => a.toString()) })
}

async function loadOrCreateKey (file) {
  let bytes
  try {
    bytes = await readFile(file)
  } catch (err) {
    if (err.code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    return key
  }
  const key = privateKeyFromProtobuf(bytes)
  if (key.type !== 'Ed25519') throw new UsageError(`key file ${file} holds a ${key.type} key, not Ed25519`)
  return key
}

async function serveStream (stream, connection, { timeoutMs, maxBytes, logStreams }) {
  const transport = transportOf(connection.remoteAddr)
  const signal = AbortSignal.timeout(timeoutMs)
  const head = new Uint8Array(HEADER_LENGTH)
  let headLength = 0
  let received = 0
  try {
    await readToEnd(stream, signal, (data) => {
      for (const buf of data instanceof Uint8Array ? [data] : data) {
        const take = Math.min(HEADER_LENGTH - headLength, buf.byteLength)
        if (take > 0) {
          head.set(buf.subarray(0, take), headLength)
          headLength += take
        }
        received += buf.byteLength - take
      }
      if (received > maxBytes) throw new Error(`upload passed the limit of ${maxBytes} bytes (--max-bytes)`)
    })
    if (headLength < HEADER_LENGTH) throw new Error(`request ended after ${headLength} of ${HEADER_LENGTH} header bytes`)
    const wanted = new DataView(head.buffer).getBigUint64(0)
    if (wanted > BigInt(maxBytes)) throw new Error(`request for ${wanted} bytes back is over the limit of ${maxBytes} (--max-bytes)`)
    await sendBytes(stream, Number(wanted), signal)
    await stream.close({ signal })
    if (logStreams) print({ served: true, transport, receivedBytes: received, sentBytes: Number(wanted) })
  } catch (err) {
    log(`${transport} stream from ${connection.remotePeer} failed after ${received} bytes: ${err.message}`)
    stream.abort(err)
  }
}

// ---------------------------------------------------------------- client

async function client (argv) {
  const opts = parseArgs(argv, {
    server: 'string',
    upload: 'count',
    download: 'count',
    runs: 'count',
    'timeout-seconds': 'count'
  })
  let target
  try {
    target = multiaddr(need(opts, 'server'))
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`'${opts.server}' is not a multiaddr: ${err.message}`)
  }
  if (!target.getComponents().some((c) => c.name === 'p2p')) throw new UsageError(`'${opts.server}' must end with /p2p/<peerId>`)
  const upload = need(opts, 'upload')
  const download = need(opts, 'download')
  const runs = need(opts, 'runs')
  if (runs < 1) throw new UsageError("option '--runs' must be at least 1")
  const timeoutMs = (opts['timeout-seconds'] ?? 120) * 1000
  const transport = transportOf(target)

  // the last guard: whatever hangs, the process ends
  setTimeout(() => {
    log(`client did not finish within ${runs} x ${timeoutMs / 1000} s + 30 s; exiting`)
    process.exit(1)
  }, runs * timeoutMs + 30_000).unref()

  const node = await createLibp2p(nodeOptions(await generateKeyPair('Ed25519'), []))
  const results = []
  let failed = 0
  for (let run = 0; run < runs; run++) {
    try {
      const result = { transport, run, ...await oneRun(node, target, upload, download, AbortSignal.timeout(timeoutMs)) }
      results.push(result)
      print(result)
    } catch (err) {
      failed++
      print({ transport, run, error: err.message ?? String(err) })
    }
  }
  print({
    summary: true,
    transport,
    runs,
    failed,
    congestionControl: await congestionControl(transport),
    connectMsMedian: median(results.map((r) => r.connectMs)),
    uploadGbitPerSecondMedian: median(results.map((r) => rate(r.uploadBytes, r.uploadSeconds))),
    downloadGbitPerSecondMedian: median(results.map((r) => rate(r.downloadBytes, r.downloadSeconds)))
  })
  await node.stop().catch((err) => log(`stop failed: ${err.message}`))
  process.exit(failed === 0 ? 0 : 1)
}

/** The congestion controller the transport's sender uses here. */
async function congestionControl (transport) {
  if (transport === 'quic') return 'cubic (quinn default)'
  try {
    return (await readFile('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8')).trim()
  } catch {
    return 'unknown'
  }
}

async function oneRun (node, target, upload, download, signal) {
  const start = performance.now()
  const connection = await node.dial(target, { signal, force: true })
  try {
    await perfRequest(connection, 1, 1, signal)
    const connectMs = performance.now() - start
    const up = upload === 0 ? { seconds: 0 } : await timed(() => perfRequest(connection, upload, 0, signal))
    const down = download === 0 ? { value: 0, seconds: 0 } : await timed(() => perfRequest(connection, 0, download, signal))
    return {
      connectMs: round(connectMs, 3),
      uploadBytes: upload,
      uploadSeconds: round(up.seconds, 6),
      downloadBytes: down.value,
      downloadSeconds: round(down.seconds, 6)
    }
  } finally {
    await connection.close({ signal: AbortSignal.timeout(5000) }).catch((err) => connection.abort(err))
  }
}

/** One perf stream: sends `upload` bytes, asks for `download` back; returns the bytes received. */
async function perfRequest (connection, upload, download, signal) {
  const stream = await connection.newStream(PROTOCOL, { signal })
  try {
    let received = 0
    const reading = readToEnd(stream, signal, (data) => {
      received += data.byteLength
      if (received > download) throw new Error(`asked for ${download} bytes back, received more`)
    })
    reading.catch(() => {}) // observed below; keeps a failure while sending from being reported as unhandled
    stream.send(header(download))
    await sendBytes(stream, upload, signal)
    await stream.close({ signal })
    await reading
    if (received !== download) throw new Error(`asked for ${download} bytes back, received ${received}`)
    return received
  } catch (err) {
    stream.abort(err)
    throw err
  }
}

async function timed (fn) {
  const start = performance.now()
  const value = await fn()
  return { value, seconds: (performance.now() - start) / 1000 }
}

function rate (bytes, seconds) {
  return bytes === 0 || seconds === 0 ? null : round(bytes * 8 / seconds / 1e9, 3)
}

function median (values) {
  const v = values.filter((x) => x != null).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return round(v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2, 3)
}

function round (x, digits) {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

// ---------------------------------------------------------------- selftest

async function selftest (argv) {
  const opts = parseArgs(argv, { bytes: 'count', runs: 'count', 'timeout-seconds': 'count' })
  // odd sizes, so that a lost or duplicated chunk shows
  const upload = opts.bytes ?? 3 * 2 ** 20 + 17
  const download = opts.bytes ?? 5 * 2 ** 20 + 3
  const runs = opts.runs ?? 2
  const timeoutSeconds = opts['timeout-seconds'] ?? 60
  if (runs < 1) throw new UsageError("option '--runs' must be at least 1")
  const dir = await mkdtemp(join(tmpdir(), 'libp2p-perf-'))
  const startServer = () => spawnPerf(['server', '--listen', '127.0.0.1', '--key-file', join(dir, 'key'),
    '--log-streams', '--lifetime-seconds', String(3 * (runs + 1) * timeoutSeconds + 60)])
  let server = startServer()
  const problems = []
  try {
    const ready = await firstLine(server, 60_000)
    if (ready?.ready !== true) throw new Error(`server did not print its ready line: ${JSON.stringify(ready)}`)
    if (ready.addrs.length !== 3) problems.push(`server listened on ${ready.addrs.length} addresses, not 3`)
    for (const addr of ready.addrs) {
      const transport = transportOf(addr)
      const { lines } = await runToEnd(spawnPerf(['client', '--server', addr, '--upload', String(upload),
        '--download', String(download), '--runs', String(runs), '--timeout-seconds', String(timeoutSeconds)]))
      for (const line of lines) print(line)
      const done = lines.filter((l) => l.run != null && l.error == null &&
        l.uploadBytes === upload && l.downloadBytes === download)
      if (done.length !== runs) problems.push(`${transport}: ${done.length} of ${runs} runs moved ${upload} bytes up and ${download} down`)
      // the server logs a stream once it has closed it, which the client saw before it ended: allow its line a moment
      const count = (field, n) => server.lines.filter((l) => l.served === true && l.transport === transport && l[field] === n).length
      await until(server, () => count('receivedBytes', upload) >= runs && count('sentBytes', download) >= runs, 5_000)
      const up = count('receivedBytes', upload)
      const down = count('sentBytes', download)
      if (up !== runs || down !== runs) problems.push(`${transport}: the server counted ${up} uploads of ${upload} bytes and ${down} downloads of ${download} bytes, not ${runs} of each`)
    }

    // a dial that expects another PeerId must be refused, naming both
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    for (const addr of ready.addrs) {
      const transport = transportOf(addr)
      const wrong = addr.replace(/\/p2p\/[^/]+$/, `/p2p/${other}`)
      const { lines, exitCode } = await runToEnd(spawnPerf(['client', '--server', wrong, '--upload', '1',
        '--download', '1', '--runs', '1', '--timeout-seconds', '20']))
      const error = lines.find((l) => l.error != null)?.error ?? ''
      if (exitCode === 0 || !error.includes(ready.peerId) || !error.includes(other)) {
        problems.push(`${transport}: a dial expecting ${other} ended with exit code ${exitCode} and error '${error}', not a refusal naming both PeerIds`)
      } else {
        log(`selftest: ${transport} refused a dial that expected another PeerId: ${error}`)
      }
    }

    // the key file keeps the PeerId across restarts
    await stopChild(server)
    server = startServer()
    const again = await firstLine(server, 60_000)
    if (again?.peerId !== ready.peerId) problems.push(`restarted with the same key file, the server is ${again?.peerId}, not ${ready.peerId}`)
  } finally {
    await stopChild(server)
    await rm(dir, { recursive: true, force: true })
  }
  if (problems.length > 0) {
    for (const p of problems) log(`selftest: ${p}`)
    process.exit(1)
  }
  log(`selftest: tcp, quic and ws each moved ${upload} bytes up and ${download} bytes down in ${runs} runs; wrong PeerIds refused; PeerId kept across a restart`)
  process.exit(0)
}

/** Starts this script with the same node; collects its JSON stdout lines in child.lines. */
function spawnPerf (args) {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.lines = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      child.lines.push(JSON.parse(line))
      child.emit('json', child.lines.at(-1))
    } catch {
      log(`not JSON: ${line}`)
    }
  })
  return child
}

async function firstLine (child, timeoutMs) {
  const signal = AbortSignal.timeout(timeoutMs)
  const [line] = await Promise.race([once(child, 'json', { signal }), once(child, 'exit', { signal }).then(() => [null])])
  return line
}

async function stopChild (child) {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** Resolves once test() holds, checked at each JSON line of child, or after timeoutMs. */
async function until (child, test, timeoutMs) {
  if (test()) return
  await new Promise((resolve) => {
    const done = () => { clearTimeout(timer); child.off('json', check); resolve() }
    const check = () => { if (test()) done() }
    const timer = setTimeout(done, timeoutMs)
    child.on('json', check)
  })
}

async function runToEnd (child) {
  if (child.exitCode == null && child.signalCode == null) await once(child, 'close')
  return { lines: child.lines, exitCode: child.exitCode }
}

// ---------------------------------------------------------------- main

const [command, ...rest] = process.argv.slice(2)
const commands = { server, client, selftest }
try {
  if (commands[command] == null) throw new UsageError(`first argument must be 'server', 'client' or 'selftest', not '${command ?? ''}'`)
  await commands[command](rest)
} catch (err) {
  if (err instanceof UsageError) {
    log(err.message)
    process.exit(2)
  }
  log(`failed: ${err.stack ?? err}`)
  process.exit(1)
}
