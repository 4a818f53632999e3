'use strict';
// npm ws as a server that kizuna dials. It listens on 127.0.0.1 (a free port,
// printed as "LISTENING <port>") with the certificate and key given (a node
// identity's, so the dialer can check the PeerId), requests a client
// certificate, and speaks kizuna.v1. What each connection saw is printed as one
// JSON line when it closes. Connection 1 gets a fragmented message and a ping,
// then everything it sends is echoed; connection 2 is closed with 4000;
// connection 3 with 1001 (going away).
const https = require('https');
const fs = require('fs');
const { WebSocketServer } = require('ws');

const [certFile, keyFile] = process.argv.slice(2);
const server = https.createServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
  requestCert: true,
  rejectUnauthorized: false, // the client's certificate is bound to a node key, not signed by a CA
});
const wss = new WebSocketServer({
  server,
  path: '/kizuna',
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('kizuna.v1') ? 'kizuna.v1' : false),
});

let count = 0;
wss.on('connection', (ws, req) => {
  const n = ++count;
  const r = {
    n,
    protocol: ws.protocol,
    clientCertificate: req.socket.getPeerCertificate().fingerprint256 || null,
    echoed: 0,
  };
  ws.on('pong', (data) => { r.pong = data.toString(); });
  ws.on('close', (code, reason) => {
    r.closeCode = code;
    r.closeReason = reason.toString();
    console.log(JSON.stringify(r));
  });
  ws.on('error', (e) => { r.error = String(e.message || e); });
  if (n === 1) {
    const message = Buffer.alloc(90000);
    for (let i = 0; i < message.length; i++) {
      message[i] = i % 251;
    }
    ws.send(message.subarray(0, 30000), { binary: true, fin: false });
    ws.send(message.subarray(30000, 60000), { binary: true, fin: false });
    ws.send(message.subarray(60000), { binary: true, fin: true });
    ws.ping(Buffer.from('server-ping'));
    ws.on('message', (data) => {
      if (data.length === 0) {
        r.endOfStream = true;
        ws.send(Buffer.alloc(0), { binary: true }); // ends this direction too
      } else {
        r.echoed += data.length;
        ws.send(data, { binary: true });
      }
    });
  } else if (n === 2) {
    ws.send(Buffer.alloc(10, 2), { binary: true });
    ws.close(4000, 'custom close code');
  } else {
    ws.send(Buffer.alloc(5, 3), { binary: true });
    ws.close(1001, 'going away');
  }
});
server.listen(0, '127.0.0.1', () => {
  console.log('LISTENING ' + server.address().port);
});
setTimeout(() => process.exit(3), 120000).unref(); // never outlives a test run
