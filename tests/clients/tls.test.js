// npm `eventsource` over HTTPS to the secure dashboard (examples/secure_dashboard.cpp), with a
// throwaway CA and server certificate (for localhost and 127.0.0.1, lib/pki.js) made with the
// openssl CLI. Each client runs in a child Node.js process (lib/tls-client.js): started with
// NODE_EXTRA_CA_CERTS=ca.crt it trusts the CA, started without it it must not.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { makePki } from './lib/pki.js';
import { startSecureDashboard } from './lib/servers.js';

const token = 'tls-test-token';
let pki;
let dashboard;

before(async () => {
  pki = makePki('asio-sse-tls-client-');
  dashboard = await startSecureDashboard({ cert: pki.cert, key: pki.key, token, intervalMs: 100 });
});
after(async () => {
  await dashboard?.stop();
  pki?.cleanup();
});

const clientScript = fileURLToPath(new URL('./lib/tls-client.js', import.meta.url));

// Runs lib/tls-client.js on `url` (trusting the test CA or not) and resolves with what it printed.
// Bounded: a client still running after 20 s is killed (by its PID) and the test fails.
function runClient(url, count, { trustCa }) {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  if (trustCa) env.NODE_EXTRA_CA_CERTS = pki.ca;
  const child = spawn(process.execPath, [clientScript, url, String(count)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tls-client did not end within 20 s; stderr: ${err}`));
    }, 20_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`tls-client exited (${code ?? signal}); stderr: ${err}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`tls-client printed ${JSON.stringify(out)}; stderr: ${err}`));
      }
    });
  });
}

const CLOSED = 2;

test('tls: with the token, metrics events over https://localhost, each one JSON', { timeout: 30_000 }, async () => {
  assert.match(dashboard.url, /^https:\/\/localhost:\d+$/);
  const r = await runClient(`${dashboard.url}/metrics?token=${token}`, 3, { trustCa: true });
  assert.deepEqual(r.errors, [], JSON.stringify(r));
  assert.equal(r.timedOut, false, JSON.stringify(r));
  assert.equal(r.events.length, 3, JSON.stringify(r));
  for (const data of r.events) {
    const m = JSON.parse(data);
    assert.equal(typeof m, 'object');
    assert.equal(typeof m.connections_total, 'number', data);
  }
});

test('tls: with a wrong token the server answers 401 and the client gives up', { timeout: 30_000 }, async () => {
  const r = await runClient(`${dashboard.url}/metrics?token=not-${token}`, 1, { trustCa: true });
  assert.deepEqual(r.events, [], JSON.stringify(r));
  assert.equal(r.errors.length, 1, JSON.stringify(r));
  assert.equal(r.errors[0].code, 401, JSON.stringify(r));
  assert.equal(r.errors[0].readyState, CLOSED, JSON.stringify(r));
  assert.equal(r.readyState, CLOSED, JSON.stringify(r));
});

test('tls: without trusting the CA the connection fails on the certificate', { timeout: 30_000 }, async () => {
  const r = await runClient(`${dashboard.url}/metrics?token=${token}`, 1, { trustCa: false });
  assert.deepEqual(r.events, [], JSON.stringify(r));
  assert.equal(r.timedOut, false, JSON.stringify(r));
  assert.equal(r.errors.length, 1, JSON.stringify(r));
  assert.match(r.errors[0].message, /certificate/i, JSON.stringify(r));
});
