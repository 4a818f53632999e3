// Kizuna WebRTC signaling and streams for JavaScript peers (browsers, Node with a
// WebRTC implementation). One module for both: the caller passes in the platform's
// RTCPeerConnection, WebSocket and WebCrypto.
//
// Signaling messages are JSON objects {v, type, session, from, to, seq, body, sig};
// sig is Ed25519 over UTF-8 of
//   "kizuna-webrtc-signal/1\n" + type + "\n" + session + "\n" + from + "\n" + to + "\n" + seq + "\n" + body
// A PeerId is the raw 32-byte Ed25519 public key in lowercase base32 without padding.
// A stream (DataChannel protocol "kizuna-stream/1") carries bytes in binary messages;
// text messages are control: "credit <n>" allows n more bytes, "fin" ends a direction;
// the side that receives the second fin closes the channel.

const CONTEXT = 'kizuna-webrtc-signal/1';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
export const STREAM_PROTOCOL = 'kizuna-stream/1';
const WINDOW = 1024 * 1024;
const HIGH_WATER = 1024 * 1024;
const CHUNK = 16 * 1024;
const DIAL_TIMEOUT_MILLIS = 30_000;

export function base32(bytes) {
  let out = '', bits = 0, value = 0;
  for (const b of bytes) {
    value = (value << 8) | b; bits += 8;
    while (bits >= 5) { out += ALPHABET[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function unbase32(text) {
  const out = []; let bits = 0, value = 0;
  for (const c of text) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new Error(`'${c}' is not base32`);
    value = (value << 5) | i; bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
  }
  return new Uint8Array(out);
}

const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const utf8 = (text) => new TextEncoder().encode(text);

function signedBytes(m) {
  return utf8(`${CONTEXT}\n${m.type}\n${m.session}\n${m.from}\n${m.to}\n${m.seq}\n${m.body}`);
}

export function fingerprintOf(sdp) {
  const m = /^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$/m.exec(sdp);
  if (!m) throw new Error('the SDP declares no SHA-256 DTLS fingerprint');
  return m[1].toUpperCase();
}

/** An identity for this peer: a fresh Ed25519 key; its PeerId is the raw public key in base32. */
export async function newIdentity(subtle) {
  const keys = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const raw = new Uint8Array(await subtle.exportKey('raw', keys.publicKey));
  return { keys, peerId: base32(raw) };
}

/** A byte stream over one DataChannel, with the credit flow control of kizuna-stream/1. */
export class KizunaStream {
  constructor(dc, onData) {
    this.dc = dc; this.onData = onData;
    dc.binaryType = 'arraybuffer';
    this.sendCredit = 0; this.granted = 0; this.received = 0; this.consumed = 0;
    this.finReceived = false; this.finSent = false; this.waiters = [];
    this.ended = new Promise((resolve, reject) => { this.resolveEnd = resolve; this.rejectEnd = reject; });
    this.ended.catch(() => {}); // a failure is for whoever awaits the end; unawaited, it must not end the process
    this.opened = new Promise((resolve, reject) => {
      const open = () => { this.granted = WINDOW; this.control(`credit ${WINDOW}`); resolve(); };
      if (dc.readyState === 'open') open(); else dc.onopen = open;
      this.rejectOpen = reject;
    });
    this.opened.catch(() => {});
    dc.onmessage = (ev) => {
      try { this.message(ev.data); } catch (e) { this.fail(e); }
    };
    dc.onclose = () => {
      this.rejectOpen(new Error('the DataChannel closed before it opened'));
      if (!this.finReceived) this.rejectEnd(new Error(`the DataChannel closed before the peer ended its stream (${this.received} bytes received)`));
      this.wake();
    };
  }

  /** Ends the stream on a broken protocol: whoever awaits it learns why, and the channel closes. */
  fail(e) {
    this.rejectEnd(e);
    this.dc.close();
  }

  /**
   * Sends a control message that matters only while the channel is open. @roamhq/wrtc's send() and
   * readyState read libwebrtc's state as it is at that instant, on libwebrtc's own thread, while it
   * hands messages to JavaScript later, in order: a message the peer sent before closing the channel
   * can be handled after libwebrtc has seen the close, and send() then throws InvalidStateError
   * (browsers keep readyState 'open' until the close event is handled). A channel that is closing
   * needs no credit, as the peer can send nothing more, so that error is dropped here.
   */
  control(text) {
    try {
      this.dc.send(text);
    } catch (e) {
      if (this.dc.readyState === 'open') throw e;
    }
  }

  message(data) {
    if (typeof data === 'string') {
      if (data === 'fin') {
        this.finReceived = true; this.resolveEnd();
        if (this.finSent) this.dc.close(); // the fin that ends the exchange: its receiver closes (see fin())
        return;
      }
      const m = /^credit (\d+)$/.exec(data);
      if (!m) throw new Error(`unknown control message ${data}`);
      this.sendCredit += Number(m[1]); this.wake(); return;
    }
    const bytes = new Uint8Array(data);
    this.received += bytes.length;
    if (this.received > this.granted) throw new Error('the peer sent beyond its credit');
    this.onData(bytes);
    this.consumed += bytes.length;
    if (this.granted - this.consumed <= WINDOW / 2) {
      const more = this.consumed + WINDOW - this.granted;
      this.granted += more;
      this.control(`credit ${more}`);
    }
  }

  wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  async room() {
    // bufferedamountlow is not reliable in every implementation: poll bufferedAmount
    while (this.sendCredit === 0 || this.dc.bufferedAmount > HIGH_WATER) {
      if (this.dc.readyState !== 'open') throw new Error('the DataChannel closed');
      if (this.sendCredit === 0) await new Promise((r) => { this.waiters.push(r); setTimeout(r, 50); });
      else await new Promise((r) => setTimeout(r, 2));
    }
  }

  async write(bytes) {
    await this.opened;
    for (let off = 0; off < bytes.length;) {
      await this.room();
      const n = Math.min(CHUNK, bytes.length - off, this.sendCredit);
      this.dc.send(bytes.subarray(off, off + n));
      this.sendCredit -= n; off += n;
    }
  }

  /** Ends this side; when the peer has ended its side first, the peer closes the channel on this fin. */
  fin() { this.finSent = true; this.dc.send('fin'); }
}

/**
 * Dials a Kizuna node over its WebSocket signaling endpoint and opens the first
 * DataChannel. Every answer and candidate must carry a valid signature by the
 * expected PeerId; the DTLS certificate used must be the one in the signed SDP.
 * Fails when the node refuses or closes the signaling before it answered, when the
 * channel closes before it opened, or after timeoutMillis.
 */
export async function dial({ wsUrl, peerId, identity, RTCPeerConnection, WebSocket, subtle, onData,
    iceServers = [], timeoutMillis = DIAL_TIMEOUT_MILLIS, log = () => {} }) {
  const session = b64(crypto.getRandomValues(new Uint8Array(16))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const peerKey = await subtle.importKey('raw', unbase32(peerId), { name: 'Ed25519' }, false, ['verify']);
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error(`cannot open ${wsUrl}`)); });
  let fail;
  const failed = new Promise((_, reject) => { fail = reject; });
  failed.catch(() => {});
  let seq = 0, lastSeen = -1, signedFingerprint = null;
  // Messages leave in the order of their seq, which the node requires (a lower one is a replay to it):
  // signing is asynchronous, and two signatures begun one after the other can finish the other way round.
  let outgoing = Promise.resolve();
  const send = (type, body) => {
    const m = { v: 1, type, session, from: identity.peerId, to: peerId, seq: seq++, body };
    outgoing = outgoing.then(async () => {
      m.sig = b64(new Uint8Array(await subtle.sign({ name: 'Ed25519' }, identity.keys.privateKey, signedBytes(m))));
      ws.send(JSON.stringify(m));
    });
    outgoing.catch(fail);
    return outgoing;
  };
  const started = Date.now();
  const pc = new RTCPeerConnection({ iceServers });
  try {
    const dc = pc.createDataChannel('kizuna', { ordered: true, protocol: STREAM_PROTOCOL });
    const stream = new KizunaStream(dc, onData); // handlers first: a channel can open before setRemoteDescription resolves
    const early = [];
    let offerSent = false;
    pc.onicecandidate = (ev) => {
      if (!ev.candidate || !ev.candidate.candidate) return;
      const body = `${ev.candidate.sdpMLineIndex}\n${ev.candidate.sdpMid}\n${ev.candidate.candidate}`;
      if (offerSent) send('candidate', body); else early.push(body);
    };
    // one message at a time, in order: a candidate must not reach addIceCandidate before the answer it
    // follows is set (the handlers await, so without the chain a later message could overtake)
    let chain = Promise.resolve();
    const handle = async (ev) => {
      const m = JSON.parse(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
      const ok = await subtle.verify({ name: 'Ed25519' }, peerKey, unb64(m.sig), signedBytes(m));
      if (m.from !== peerId || !ok) throw new Error(`a ${m.type} not signed by ${peerId} (signed by ${m.from}, valid ${ok})`);
      if (m.to !== identity.peerId || m.session !== session || m.seq <= lastSeen) throw new Error(`a ${m.type} of another session, peer or position`);
      lastSeen = m.seq;
      if (m.type === 'answer') {
        signedFingerprint = fingerprintOf(m.body);
        await pc.setRemoteDescription({ type: 'answer', sdp: m.body });
        log(`signed answer from ${peerId} verified`);
      } else if (m.type === 'candidate') {
        const [mline, mid, candidate] = m.body.split('\n');
        await pc.addIceCandidate({ candidate, sdpMid: mid, sdpMLineIndex: Number(mline) });
      } else if (m.type === 'reject') {
        throw new Error(`refused: ${m.body}`);
      }
    };
    const inOrder = (step) => { chain = chain.then(step).catch(fail); };
    ws.onmessage = (ev) => inOrder(() => handle(ev));
    // After its answer the node closes the signaling once it is up, which can be before this side has seen
    // the channel open; before it, a close means the node gave up (behind any message it sent first).
    ws.onclose = () => inOrder(() => {
      if (signedFingerprint === null) throw new Error(`the node closed the signaling at ${wsUrl} without answering`);
    });
    const timer = setTimeout(() => fail(new Error(`no DataChannel to ${peerId} within ${timeoutMillis} ms`)), timeoutMillis);
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      await Promise.race([send('offer', pc.localDescription.sdp), failed]);
      offerSent = true;
      for (const body of early) send('candidate', body);
      await Promise.race([stream.opened, failed]);
    } finally {
      clearTimeout(timer);
    }
    const openMillis = Date.now() - started;
    ws.onclose = null;
    ws.close();
    const checked = await dtlsCheck(pc, signedFingerprint);
    return { stream, pc, openMillis, fingerprint: checked.fingerprint, pair: checked.pair };
  } catch (e) {
    ws.close();
    pc.close();
    throw e;
  }
}

/** The remote DTLS certificate negotiated (from getStats) must be the one the node signed. */
async function dtlsCheck(pc, signed) {
  const stats = new Map();
  (await pc.getStats()).forEach((s) => stats.set(s.id, s));
  let fingerprint = null, pair = '?';
  for (const s of stats.values()) {
    if (s.type !== 'transport') continue;
    const cert = stats.get(s.remoteCertificateId);
    if (cert) fingerprint = cert.fingerprint.toUpperCase();
    const p = stats.get(s.selectedCandidatePairId);
    if (p) {
      const l = stats.get(p.localCandidateId), r = stats.get(p.remoteCandidateId);
      pair = `${l && l.candidateType} ${l && (l.address || l.ip)}:${l && l.port} -> ${r && r.candidateType} ${r && (r.address || r.ip)}:${r && r.port}`;
    }
  }
  if (fingerprint === null) throw new Error('the WebRTC stack reports no remote DTLS certificate');
  if (fingerprint !== signed) throw new Error(`the DTLS certificate used (${fingerprint}) is not the signed one (${signed})`);
  return { fingerprint, pair };
}

/** SHA-256 of byte arrays, as hex. */
export async function sha256(subtle, parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) { all.set(p, off); off += p.length; }
  return [...new Uint8Array(await subtle.digest('SHA-256', all))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Dials, sends `bytes` pseudo-random bytes, ends its side, reads until the node
 * ends its side, and reports both SHA-256s.
 */
export async function exchange(options, bytes) {
  const received = [];
  const { stream, pc, openMillis, fingerprint, pair } = await dial({ ...options, onData: (b) => received.push(b.slice()) });
  try {
    const data = new Uint8Array(bytes);
    for (let i = 0, x = 0x9e3779b9; i < bytes; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; data[i] = x & 255; }
    const t0 = Date.now();
    await stream.write(data);
    stream.fin();
    await stream.ended;
    const millis = Date.now() - t0;
    return {
      ok: true, peerId: options.identity.peerId, node: options.peerId, openMillis, transferMillis: millis,
      bytes, receivedBytes: received.reduce((n, p) => n + p.length, 0),
      sentSha256: await sha256(options.subtle, [data]), receivedSha256: await sha256(options.subtle, received),
      fingerprint, pair,
    };
  } finally {
    pc.close();
  }
}
