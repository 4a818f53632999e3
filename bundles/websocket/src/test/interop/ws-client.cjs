'use strict';
// npm ws as a client of a kizuna websocket listener. Runs each scenario on a
// new connection and prints one JSON line with what it saw; the Java test
// judges it. Arguments: url, url of a listener with permessage-deflate, client
// certificate (PEM), its key (PEM), SHA-256 fingerprint of the listener's
// certificate (AA:BB:...), which the client pins.
const WebSocket = require('ws');
const crypto = require('crypto');
const fs = require('fs');

const [url, deflateUrl, certFile, keyFile, fingerprint] = process.argv.slice(2);
const cert = fs.readFileSync(certFile);
const key = fs.readFileSync(keyFile);

function connect(name, target, { protocols = ['kizuna.v1'], withCert = true, deflate = false } = {}) {
  const r = { name };
  const ws = new WebSocket(target, protocols, {
    cert: withCert ? cert : undefined,
    key: withCert ? key : undefined,
    // The listener's certificate is self-signed and bound to a node key: no CA
    // vouches for it. The client pins its fingerprint instead (checked below,
    // before anything is sent).
    rejectUnauthorized: false,
    perMessageDeflate: deflate ? { threshold: 0 } : false,
    handshakeTimeout: 10000,
  });
  ws.on('upgrade', (res) => {
    r.pinned = res.socket.getPeerCertificate().fingerprint256 === fingerprint;
    if (!r.pinned) {
      ws.terminate();
    }
  });
  ws.on('unexpected-response', (req, res) => {
    r.status = res.statusCode;
    req.destroy();
  });
  ws.on('error', (e) => { r.error = String(e.message || e); });
  return { ws, r };
}

function done(ws, r, resolve, extra) {
  ws.on('close', (code, reason) => {
    r.closeCode = code;
    r.closeReason = reason.toString();
    if (extra) {
      extra();
    }
    resolve(r);
  });
}

function echo(name, target, deflate) {
  return new Promise((resolve) => {
    const { ws, r } = connect(name, target, { deflate });
    const whole = crypto.randomBytes(100000);
    const fragmented = Buffer.concat([crypto.randomBytes(40000), Buffer.alloc(30000, 7)]);
    const received = [];
    ws.on('open', () => {
      r.protocol = ws.protocol;
      r.extensions = ws.extensions;
      ws.send(whole, { binary: true });
      ws.send(fragmented.subarray(0, 30000), { binary: true, fin: false });
      ws.ping(Buffer.from('kizuna-ping')); // a control frame between two fragments
      ws.send(fragmented.subarray(30000, 50000), { binary: true, fin: false });
      ws.send(fragmented.subarray(50000), { binary: true, fin: true });
      ws.send(Buffer.alloc(0), { binary: true }); // kizuna.v1: the end of this direction
    });
    ws.on('pong', (data) => { r.pong = data.toString(); });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        r.textReceived = true;
      } else if (data.length === 0) {
        r.endOfStream = true;
      } else {
        received.push(data);
      }
    });
    done(ws, r, resolve, () => {
      r.echoed = Buffer.concat(received).equals(Buffer.concat([whole, fragmented]));
    });
  });
}

function sendThenExpectClose(name, send) {
  return new Promise((resolve) => {
    const { ws, r } = connect(name, url);
    ws.on('open', () => send(ws));
    done(ws, r, resolve);
  });
}

function refused(name, options) {
  return new Promise((resolve) => {
    const { ws, r } = connect(name, url, options);
    ws.on('open', () => { r.opened = true; ws.terminate(); });
    ws.on('close', () => resolve(r));
    // with this listener, ws leaves the refused request to us and emits no close
    ws.on('unexpected-response', () => setImmediate(() => resolve(r)));
  });
}

(async () => {
  const results = [];
  results.push(await echo('echo', url, false));
  results.push(await echo('deflate', deflateUrl, true));
  results.push(await sendThenExpectClose('text', (ws) => ws.send('a text message')));
  results.push(await sendThenExpectClose('tooBig', (ws) => ws.send(crypto.randomBytes(300000), { binary: true })));
  results.push(await sendThenExpectClose('clientClose', (ws) => {
    ws.send(Buffer.alloc(1000, 1), { binary: true });
    ws.close(1000, 'done');
  }));
  results.push(await refused('noSubprotocol', { protocols: [] }));
  results.push(await refused('noCertificate', { withCert: false }));
  console.log(JSON.stringify(results));
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
