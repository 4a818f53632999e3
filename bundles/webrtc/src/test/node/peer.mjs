// A Node peer with an independent WebRTC stack (@roamhq/wrtc): dials a Kizuna node
// through its WebSocket signaling endpoint, checks the node's signed SDP and DTLS
// certificate, sends bytes and reads the echo.
//   node peer.mjs <kizuna-webrtc.js path> <ws url> <node peer id> <bytes> [hold-last | hold-fin | late-signature]
// Prints one line "REPORT {json}".
// The last argument plays a slow peer, at a point where a race was once lost:
// - hold-last: the message that brings the echo's last bytes is handled only once the node
//   has closed the DataChannel (as when this process's event loop lags behind libwebrtc's
//   network thread); the report says in which state it was handled (heldUntil).
// - hold-fin: the node's fin is handled a little late; the report says whether the channel
//   was still open then (afterFinHeld).
// - late-signature: the ICE candidates come in one burst once the offer is on its way, and
//   the first one's signature finishes after a later one's when both are under way at once
//   (WebCrypto signs on a thread pool, so two signatures can finish in either order); the
//   report says how many candidates the burst had (burst).
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { pathToFileURL } from 'node:url';
import { webcrypto } from 'node:crypto';

globalThis.crypto ??= webcrypto; // Node 18 has WebCrypto, but not as a global

const HOLD_MILLIS = 10_000;
const HOLD_FIN_MILLIS = 300;
const LATE_SIGNATURE_MILLIS = 1_000;
const [modulePath, wsUrl, peerId, bytes, mode] = process.argv.slice(2);
const k = await import(pathToFileURL(modulePath).href);
const seen = {};

/**
 * An RTCPeerConnection whose DataChannels run `before(dc, event)` ahead of the handler of each
 * message, in order with every other event (blocking this thread while it runs).
 */
function beforeMessages(Base, before) {
  return class extends Base {
    createDataChannel(...args) {
      const dc = super.createDataChannel(...args);
      let wrapped = null;
      Object.defineProperty(dc, 'onmessage', {
        get: () => wrapped,
        set: (handler) => { wrapped = (ev) => { before(dc, ev); handler.call(dc, ev); }; },
      });
      return dc;
    }
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread until `done()` or for at most `millis`. */
function block(millis, done = () => false) {
  const deadline = Date.now() + millis;
  while (!done() && Date.now() < deadline) Atomics.wait(pause, 0, 0, 1);
}

/**
 * hold-last: the message completing `total` received bytes is handled only after the channel
 * has left 'open'. @roamhq/wrtc reads readyState from libwebrtc as it is now, so the hold
 * lasts until libwebrtc has seen the node's close.
 */
function holdingLast(total) {
  let received = 0;
  return beforeMessages(wrtc.RTCPeerConnection, (dc, ev) => {
    if (typeof ev.data !== 'string' && (received += ev.data.byteLength) === total) {
      block(HOLD_MILLIS, () => dc.readyState !== 'open');
      seen.heldUntil = dc.readyState;
    }
  });
}

/** hold-fin: the node's fin is handled HOLD_FIN_MILLIS late; the report says the channel's state then. */
function holdingFin() {
  return beforeMessages(wrtc.RTCPeerConnection, (dc, ev) => {
    if (ev.data === 'fin') {
      block(HOLD_FIN_MILLIS);
      seen.afterFinHeld = dc.readyState;
    }
  });
}

/**
 * The platform for late-signature: ICE candidate events are held back until the offer has been
 * sent and two candidates (or the end of them) have come, then delivered at once. When another
 * candidate's signature begins before the first one's has (in the same turn of the event loop),
 * the first one completes only after a later one has, or after LATE_SIGNATURE_MILLIS; a peer that
 * signs one message at a time begins no other, and the first signature waits for nothing.
 */
function lateSignature() {
  let pc = null;
  class BurstPeerConnection extends wrtc.RTCPeerConnection {
    constructor(...args) {
      super(...args);
      pc = this;
      const held = [];
      let handler = null, offerSent = false, released = false;
      const releaseWhenReady = () => {
        const candidates = held.filter((ev) => ev.candidate && ev.candidate.candidate).length;
        if (released || !offerSent || (candidates < 2 && held.length === candidates)) return;
        released = true;
        seen.burst = candidates;
        held.splice(0).forEach((ev) => handler.call(this, ev));
      };
      Object.defineProperty(this, 'onicecandidate', {
        get: () => handler && ((ev) => {
          if (released) handler.call(this, ev);
          else { held.push(ev); releaseWhenReady(); }
        }),
        set: (h) => { handler = h; },
      });
      this.offerSent = () => { offerSent = true; releaseWhenReady(); };
    }
  }
  class OfferWatchingWebSocket extends WebSocket {
    send(data, ...rest) {
      super.send(data, ...rest);
      if (JSON.parse(data).type === 'offer') setImmediate(() => pc.offerSent());
    }
  }
  const subtle = crypto.subtle;
  let begun = 0, laterDone = null;
  const sign = async (algorithm, key, data) => {
    const candidate = new TextDecoder().decode(data).split('\n')[1] === 'candidate';
    if (candidate && begun++ === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (begun > 1) {
        await new Promise((resolve) => { laterDone = resolve; setTimeout(resolve, LATE_SIGNATURE_MILLIS); });
      }
    }
    const signature = await subtle.sign(algorithm, key, data);
    if (candidate && laterDone) setImmediate(laterDone);
    return signature;
  };
  return {
    RTCPeerConnection: BurstPeerConnection,
    WebSocket: OfferWatchingWebSocket,
    subtle: new Proxy(subtle, { get: (target, name) => (name === 'sign' ? sign : target[name].bind(target)) }),
  };
}

let report;
try {
  const identity = await k.newIdentity(crypto.subtle);
  const platform = mode === 'late-signature' ? lateSignature()
    : { RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket, subtle: crypto.subtle };
  if (mode === 'hold-last') platform.RTCPeerConnection = holdingLast(Number(bytes));
  if (mode === 'hold-fin') platform.RTCPeerConnection = holdingFin();
  report = await k.exchange({ wsUrl, peerId, identity, ...platform }, Number(bytes));
  report.agent = `node ${process.version}, @roamhq/wrtc`;
} catch (e) {
  report = { ok: false, error: String((e && e.message) || e) };
}
Object.assign(report, seen);
console.log('REPORT ' + JSON.stringify(report));
process.exit(0);
