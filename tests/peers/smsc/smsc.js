#!/usr/bin/env node
// SMPP 3.4 SMSC simulator for huifang's integration tests (see ../README.md).
// Prints `READY <smpp_port> <control_port>` once listening; logs JSON lines to --log.
'use strict';
const fs = require('fs');
const http = require('http');
const smpp = require('smpp');

// The package decodes short_message with a GSM 03.38 table (it turns ASCII '@' into '¡') and strips
// the UDH into its own shape; we want the raw bytes, so drop its decode filters for what we receive.
delete smpp.commands.submit_sm.params.short_message.filter;
delete smpp.tlvs.message_payload.filter;

const opt = { port: 0, controlPort: 0, systemId: null, password: null, log: null, receiptDelayMs: 100,
  undeliverable: [], throttleEvery: 0, dropAfter: 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i], v = argv[i + 1];
  switch (a) {
    case '--port': opt.port = +v; i++; break;
    case '--control-port': opt.controlPort = +v; i++; break;
    case '--system-id': opt.systemId = v; i++; break;
    case '--password': opt.password = v; i++; break;
    case '--log': opt.log = v; i++; break;
    case '--receipt-delay-ms': opt.receiptDelayMs = +v; i++; break;
    case '--undeliverable': opt.undeliverable.push(v); i++; break;
    case '--throttle-every': opt.throttleEvery = +v; i++; break;
    case '--drop-after': opt.dropAfter = +v; i++; break;
    default: console.error(`smsc.js: unknown option ${a}`); process.exit(2);
  }
}

const logFd = opt.log ? fs.openSync(opt.log, 'a') : null;
const submits = [];
function log(obj) {
  const line = JSON.stringify(Object.assign({ ts: new Date().toISOString() }, obj));
  if (logFd !== null) fs.writeSync(logFd, line + '\n'); // unbuffered: one write per line
}

// --- text helpers ---
function decodeText(buf, dataCoding) {
  if (!buf || !buf.length) return '';
  if (dataCoding === 8) { // UCS-2 big-endian
    const b = Buffer.from(buf.subarray(0, buf.length & ~1));
    return b.swap16().toString('utf16le');
  }
  if (dataCoding !== 0) return buf.toString('latin1'); // IA5/ASCII (1), Latin-1 (3), anything else
  // data_coding 0 (SMSC default = GSM 03.38, one septet per byte): printable bytes are read as ASCII
  // (what most ESMEs send), control bytes and 0x1B escapes as GSM (what the npm smpp client sends).
  let out = '';
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === 0x1b && i + 1 < buf.length && GSM_EXT[buf[i + 1]]) out += GSM_EXT[buf[++i]];
    else if (b < 0x20 && b !== 0x0a && b !== 0x0d) out += GSM_LOW[b];
    else out += String.fromCharCode(b);
  }
  return out;
}
const GSM_LOW = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ';
const GSM_EXT = { 0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€' };
function encodeText(text) { // ASCII → data_coding 0, otherwise UCS-2 BE (data_coding 8)
  if (/^[\x00-\x7f]*$/.test(text)) return { data_coding: 0, bytes: Buffer.from(text, 'latin1') };
  return { data_coding: 8, bytes: Buffer.from(text, 'utf16le').swap16() };
}
function splitUdh(buf, esmClass) { // → { udh: {ref,total,seq}|null, body }
  if (!(esmClass & 0x40) || !buf.length) return { udh: null, body: buf };
  const udhl = buf[0];
  let udh = null;
  for (let i = 1; i + 1 < 1 + udhl;) {
    const iei = buf[i], len = buf[i + 1], d = buf.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) udh = { ref: d[0], total: d[1], seq: d[2] };
    if (iei === 0x08 && len === 4) udh = { ref: d.readUInt16BE(0), total: d[2], seq: d[3] };
    i += 2 + len;
  }
  return { udh, body: buf.subarray(1 + udhl) };
}
function smppDate(d) { // YYMMDDhhmm (UTC)
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes());
}

// --- sessions ---
let nextId = 0, submitCount = 0, acceptedCount = 0, dropped = false;
const pendingReceipts = []; // receipts waiting for a receiving session (after a drop)
const canReceive = (s) => s.bound === 'transceiver' || s.bound === 'receiver';
const canSend = (s) => s.bound === 'transceiver' || s.bound === 'transmitter';
const receivers = () => server.sessions.filter(canReceive);

function sendDeliver(session, fields, logFields) {
  return new Promise((resolve) => {
    let onClose = null;
    log(Object.assign({ pdu: 'deliver_sm' }, logFields));
    const ok = session.deliver_sm(fields, (resp) => {
      log({ pdu: 'deliver_sm_resp', command_status: resp.command_status, message_id: logFields.message_id || null });
      session.removeListener('close', onClose);
      resolve(resp.command_status);
    });
    onClose = () => resolve(null);
    if (!ok) return resolve(null);
    session.once('close', onClose);
  });
}

function sendReceipt(r) {
  const target = canReceive(r.session) ? r.session : receivers()[0];
  if (!target) { pendingReceipts.push(r); return; }
  const text = `id:${r.id} sub:001 dlvrd:${r.ok ? '001' : '000'} submit date:${smppDate(r.submitted)} ` +
    `done date:${smppDate(new Date())} stat:${r.ok ? 'DELIVRD' : 'UNDELIV'} err:${r.ok ? '000' : '001'} ` +
    `text:${r.text.slice(0, 20).replace(/[^\x20-\x7e]/g, '?')}`;
  const state = r.ok ? 2 : 5;
  sendDeliver(target, {
    source_addr_ton: r.pdu.dest_addr_ton, source_addr_npi: r.pdu.dest_addr_npi, source_addr: r.pdu.destination_addr,
    dest_addr_ton: r.pdu.source_addr_ton, dest_addr_npi: r.pdu.source_addr_npi, destination_addr: r.pdu.source_addr,
    esm_class: 0x04, data_coding: 0, short_message: Buffer.from(text, 'latin1'),
    receipted_message_id: r.id, message_state: state,
  }, { kind: 'receipt', message_id: r.id, source_addr: r.pdu.destination_addr, destination_addr: r.pdu.source_addr,
    esm_class: 4, data_coding: 0, text, message_state: state }).then((status) => {
    // Never acknowledged (the session closed first): delivered again later, as SMSCs do.
    if (status === null) setTimeout(() => sendReceipt(r), 100);
  });
}

function onSubmit(session, pdu) {
  if (!canSend(session)) return session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
  submitCount++;
  if (opt.throttleEvery && submitCount % opt.throttleEvery === 0) {
    log({ pdu: 'submit_sm_rejected', command_status: smpp.ESME_RTHROTTLED, destination_addr: pdu.destination_addr });
    return session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
  }
  const id = (++nextId).toString(16).padStart(8, '0');
  const sm = pdu.short_message || Buffer.alloc(0);
  const payload = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : null;
  const { udh, body } = splitUdh(sm.length || !payload ? sm : payload, pdu.esm_class);
  const entry = {
    pdu: 'submit_sm', message_id: id, system_id: session.systemId,
    source_addr: pdu.source_addr, destination_addr: pdu.destination_addr, data_coding: pdu.data_coding,
    esm_class: pdu.esm_class, registered_delivery: pdu.registered_delivery, udh, text: decodeText(body, pdu.data_coding),
    short_message_hex: sm.toString('hex'),
  };
  if (payload) entry.message_payload = decodeText(sm.length ? payload : splitUdh(payload, pdu.esm_class).body, pdu.data_coding);
  log(entry);
  submits.push(entry);
  acceptedCount++;
  const drop = opt.dropAfter && !dropped && acceptedCount >= opt.dropAfter;
  session.send(pdu.response({ message_id: id }), () => {
    if (drop) { dropped = true; log({ pdu: 'drop', after: acceptedCount }); session.socket.destroy(); }
  });
  const rd = pdu.registered_delivery & 3;
  const ok = !opt.undeliverable.some((p) => pdu.destination_addr.startsWith(p));
  if (rd === 1 || (rd === 2 && !ok)) {
    const r = { session, pdu, id, ok, text: entry.text, submitted: new Date() };
    setTimeout(() => sendReceipt(r), opt.receiptDelayMs);
  }
}

function onBind(session, pdu) {
  if (session.bound) return session.send(pdu.response({ command_status: smpp.ESME_RALYBND }));
  const good = (opt.systemId === null || pdu.system_id === opt.systemId) && (opt.password === null || pdu.password === opt.password);
  log({ pdu: pdu.command, system_id: pdu.system_id, command_status: good ? 0 : smpp.ESME_RBINDFAIL });
  if (!good) return session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
  session.bound = pdu.command.replace('bind_', '');
  session.systemId = pdu.system_id;
  session.send(pdu.response({ system_id: 'HUIFANGSMSC' }));
  if (canReceive(session)) pendingReceipts.splice(0).forEach(sendReceipt);
}

const server = smpp.createServer((session) => {
  session.setMaxListeners(0); // one 'close' listener per receipt in flight
  session.on('error', () => {}); // peers that reset the connection are fine
  session.on('close', () => { session.closed = true; session.bound = null; });
  session.on('pdu', (pdu) => {
    if (pdu.isResponse()) return; // deliver_sm_resp: handled by callbacks
    switch (pdu.command) {
      case 'bind_transceiver': case 'bind_transmitter': case 'bind_receiver': return onBind(session, pdu);
      case 'enquire_link': return session.send(pdu.response());
      case 'unbind':
        log({ pdu: 'unbind', system_id: session.systemId || null });
        session.bound = null;
        return session.send(pdu.response(), () => session.close());
      case 'submit_sm': return onSubmit(session, pdu);
      default: return session.send(pdu.response({ command_status: smpp.ESME_RINVCMDID }));
    }
  });
});

// --- control HTTP server ---
function reply(res, code, obj) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}
const control = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { body += c; });
  req.on('end', async () => {
    if (req.method === 'GET' && req.url === '/health') return reply(res, 200, { ok: true });
    if (req.method === 'GET' && req.url === '/submits') return reply(res, 200, submits);
    if (req.method === 'POST' && req.url === '/mo') {
      let mo;
      try { mo = JSON.parse(body); } catch (e) { return reply(res, 400, { error: 'bad json' }); }
      const target = receivers()[0];
      if (!target) return reply(res, 404, { error: 'no receiver or transceiver session is bound' });
      const { data_coding, bytes } = encodeText(String(mo.text || ''));
      const fields = { source_addr_ton: 1, source_addr_npi: 1, source_addr: mo.from, dest_addr_ton: 0, dest_addr_npi: 1,
        destination_addr: mo.to, esm_class: 0, data_coding };
      if (bytes.length <= 254) fields.short_message = bytes;
      else { fields.short_message = Buffer.alloc(0); fields.message_payload = bytes; }
      const status = await Promise.race([
        sendDeliver(target, fields, { kind: 'mo', source_addr: mo.from, destination_addr: mo.to, esm_class: 0, data_coding, text: mo.text }),
        new Promise((r) => setTimeout(() => r('timeout'), 10000)),
      ]);
      if (status === 'timeout') return reply(res, 504, { error: 'no deliver_sm_resp within 10 s' });
      if (status === null) return reply(res, 502, { error: 'session closed before deliver_sm_resp' });
      return reply(res, 200, { ok: true, command_status: status });
    }
    reply(res, 404, { error: 'not found' });
  });
});

server.listen(opt.port, '127.0.0.1', () => {
  control.listen(opt.controlPort, '127.0.0.1', () => {
    process.stdout.write(`READY ${server.address().port} ${control.address().port}\n`);
  });
});

function shutdown() {
  for (const s of server.sessions.slice()) s.socket.destroy();
  server.close();
  control.close();
  if (logFd !== null) fs.closeSync(logFd);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
