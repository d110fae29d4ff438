#!/usr/bin/env node
// Smoke test of smsc.js with the smpp package as the ESME: `node tests/peers/smsc/selftest.js`.
'use strict';
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const smpp = require('smpp');

function start(args) {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'smsc-')), 'log.jsonl');
  const child = spawn(process.execPath, [path.join(__dirname, 'smsc.js'), '--port', '0', '--control-port', '0', '--log', log, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', (d) => {
    const [, port, control] = d.toString().trim().split(' ');
    resolve({ child, port: +port, control: +control, log });
  }));
}
function connect(port) {
  const s = smpp.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  s.delivers = [];
  s.on('deliver_sm', (pdu) => { s.delivers.push(pdu); s.send(pdu.response()); });
  return new Promise((r) => s.on('connect', () => r(s)));
}
const call = (s, cmd, fields) => new Promise((r) => s[cmd](fields, r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(fn, what) {
  for (let i = 0; i < 100; i++) { const v = fn(); if (v) return v; await sleep(20); }
  throw new Error('timed out waiting for ' + what);
}
async function http(port, method, p, body) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { method, body: body && JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

(async () => {
  const a = await start(['--system-id', 'huifang', '--password', 'secret', '--undeliverable', '+86139', '--throttle-every', '6']);
  assert.equal((await http(a.control, 'GET', '/health')).status, 200);
  assert.equal((await http(a.control, 'POST', '/mo', { from: '+8613800000001', to: '4008108888', text: 'x' })).status, 404);

  const bad = await connect(a.port);
  assert.equal((await call(bad, 'bind_transceiver', { system_id: 'huifang', password: 'wrong' })).command_status, smpp.ESME_RBINDFAIL);
  bad.close();

  const s = await connect(a.port);
  assert.equal((await call(s, 'bind_transceiver', { system_id: 'huifang', password: 'secret' })).command_status, 0);
  assert.equal((await call(s, 'enquire_link', {})).command_status, 0);

  // 1: UCS-2 Chinese with a receipt
  const zh = '您好，退订回复TD';
  const r1 = await call(s, 'submit_sm', { source_addr: '4008108888', destination_addr: '+8613800000001', registered_delivery: 1,
    data_coding: 8, short_message: zh });
  assert.equal(r1.command_status, 0);
  const rc = await waitFor(() => s.delivers.find((d) => d.receipted_message_id === r1.message_id), 'receipt 1');
  assert.equal(rc.esm_class, 4); assert.equal(rc.message_state, 2);
  assert.match(rc.short_message.message, new RegExp(`^id:${r1.message_id} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:`));

  // 2, 3: two concatenated parts (8-bit reference), 4: 16-bit reference in UCS-2
  const udh = (seq) => Buffer.from([5, 0x00, 3, 0x2a, 2, seq]);
  for (const [seq, text] of [[1, 'Part one @ $5_ '], [2, 'part two.']]) {
    const r = await call(s, 'submit_sm', { destination_addr: '+8613800000002', data_coding: 0, short_message: { udh: udh(seq), message: text } });
    assert.equal(r.command_status, 0);
  }
  await call(s, 'submit_sm', { destination_addr: '+8613800000002', data_coding: 8,
    short_message: { udh: Buffer.from([6, 0x08, 4, 0x01, 0x02, 2, 1]), message: '第一部分' } });
  // 5: undeliverable (registered_delivery 1)
  const r5 = await call(s, 'submit_sm', { destination_addr: '+8613900000009', registered_delivery: 1, short_message: 'hello' });
  const ru = await waitFor(() => s.delivers.find((d) => d.receipted_message_id === r5.message_id), 'receipt 5');
  assert.equal(ru.message_state, 5); assert.match(ru.short_message.message, /stat:UNDELIV err:001 text:hello$/);
  // 6: throttled
  const r6 = await call(s, 'submit_sm', { destination_addr: '+8613800000003', short_message: 'six' });
  assert.equal(r6.command_status, 0x58); assert.equal(r6.message_id, undefined);
  // 7: message_payload TLV
  assert.equal((await call(s, 'submit_sm', { destination_addr: '+8613800000004', data_coding: 8, message_payload: '长消息'.repeat(3) })).command_status, 0);

  // MO via the control port
  const mo = await http(a.control, 'POST', '/mo', { from: '+8613800000001', to: '4008108888', text: '退订' });
  assert.equal(mo.status, 200);
  const d = s.delivers.find((p) => p.esm_class === 0);
  assert.equal(d.data_coding, 8); assert.equal(d.short_message.message, '退订'); assert.equal(d.source_addr, '+8613800000001');

  const subs = (await http(a.control, 'GET', '/submits')).json;
  assert.equal(subs.length, 6);
  assert.equal(subs[0].text, zh);
  assert.deepEqual(subs[1].udh, { ref: 0x2a, total: 2, seq: 1 }); assert.equal(subs[1].text, 'Part one @ $5_ ');
  assert.deepEqual(subs[2].udh, { ref: 0x2a, total: 2, seq: 2 }); assert.equal(subs[1].esm_class & 0x40, 0x40);
  assert.deepEqual(subs[3].udh, { ref: 0x0102, total: 2, seq: 1 }); assert.equal(subs[3].text, '第一部分');
  assert.equal(subs[5].message_payload, '长消息'.repeat(3));
  const lines = fs.readFileSync(a.log, 'utf8').trim().split('\n').map(JSON.parse);
  assert.ok(lines.some((l) => l.pdu === 'deliver_sm' && l.kind === 'mo' && l.text === '退订'));
  assert.ok(lines.some((l) => l.pdu === 'submit_sm_rejected' && l.command_status === 0x58));
  assert.equal((await call(s, 'unbind', {})).command_status, 0);
  a.child.kill('SIGTERM');
  assert.equal(await new Promise((r) => a.child.on('exit', r)), 0);

  // --drop-after: the connection dies after the 2nd accepted submit; its receipt comes on the next session
  const b = await start(['--drop-after', '2', '--receipt-delay-ms', '300']);
  const t = await connect(b.port);
  await call(t, 'bind_transceiver', { system_id: 'any', password: 'any' });
  await call(t, 'submit_sm', { destination_addr: '1', short_message: 'a' });
  const closed = new Promise((r) => t.on('close', r));
  const r2 = await call(t, 'submit_sm', { destination_addr: '2', short_message: 'b', registered_delivery: 1 });
  await closed;
  const u = await connect(b.port);
  await call(u, 'bind_receiver', { system_id: 'any', password: 'any' });
  await waitFor(() => u.delivers.find((p) => p.receipted_message_id === r2.message_id), 'receipt after reconnect');
  b.child.kill('SIGTERM');
  assert.equal(await new Promise((r) => b.child.on('exit', r)), 0);
  console.log('smsc selftest: ok');
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
