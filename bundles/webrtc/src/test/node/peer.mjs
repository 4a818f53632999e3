// A Node peer with an independent WebRTC stack (@roamhq/wrtc): dials a Kizuna node
// through its WebSocket signaling endpoint, checks the node's signed SDP and DTLS
// certificate, sends bytes and reads the echo.
//   node peer.mjs <kizuna-webrtc.js path> <ws url> <node peer id> <bytes>
// Prints one line "REPORT {json}".
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { pathToFileURL } from 'node:url';
import { webcrypto } from 'node:crypto';

globalThis.crypto ??= webcrypto; // Node 18 has WebCrypto, but not as a global

const [modulePath, wsUrl, peerId, bytes] = process.argv.slice(2);
const k = await import(pathToFileURL(modulePath).href);
let report;
try {
  const identity = await k.newIdentity(crypto.subtle);
  report = await k.exchange({ wsUrl, peerId, identity, RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket,
    subtle: crypto.subtle }, Number(bytes));
  report.agent = `node ${process.version}, @roamhq/wrtc`;
} catch (e) {
  report = { ok: false, error: String((e && e.message) || e) };
}
console.log('REPORT ' + JSON.stringify(report));
process.exit(0);
