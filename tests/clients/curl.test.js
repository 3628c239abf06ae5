// `curl -N` against the real demo (examples/demo.cpp): the exact bytes of the response head
// and of every event that arrives within a second.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { curlPath, startDemo } from './lib/servers.js';

let demo;
before(async () => {
  demo = await startDemo(100);
});
after(() => demo?.stop());

// What curl -i prints of `curl ${args} demo/` in one second (curl ends with "timed out": 28).
function curl(...args) {
  const r = spawnSync(curlPath(), ['-sSiN', '--max-time', '1', ...args, `${demo.url}/`], { timeout: 10_000 });
  assert.equal(r.status, 28, `curl: ${r.stderr}`);
  return r.stdout.toString('utf8');
}

const streamHead =
  'HTTP/1.1 200 OK\r\n' +
  'Content-Type: text/event-stream; charset=utf-8\r\n' +
  'Cache-Control: no-cache\r\n' +
  'Connection: keep-alive\r\n' +
  'X-Accel-Buffering: no\r\n' +
  '\r\n';

// The demo's event number n, byte for byte.
const numbered = (n) => `id: ${n}\nevent: myCustomEvent\nretry: 5000\ndata: This is message number ${n}\n\n`;

// The stream from `first` on, as far as `upto`.
function expectedStream(welcome, first, upto) {
  let s = streamHead + `data: ${welcome}\n\n`;
  for (let n = first; n <= upto; ++n) s += numbered(n);
  return s;
}

test('curl: the stream head and the events, byte for byte', () => {
  const out = curl('-H', 'Accept: text/event-stream');
  assert.ok(out.startsWith(expectedStream('Welcome', 1, 3)), JSON.stringify(out.slice(0, 400)));
  // Whatever else arrived is the same sequence, maybe cut in the middle of an event by the timeout.
  assert.ok(expectedStream('Welcome', 1, 100).startsWith(out), JSON.stringify(out.slice(-300)));
});

test('curl: with Last-Event-ID the demo welcomes back and counts on from it', () => {
  const out = curl('-H', 'Accept: text/event-stream', '-H', 'Last-Event-ID: 41');
  assert.ok(out.startsWith(expectedStream('Welcome back', 42, 44)), JSON.stringify(out.slice(0, 400)));
  assert.ok(expectedStream('Welcome back', 42, 142).startsWith(out), JSON.stringify(out.slice(-300)));
});

test('curl: without Accept: text/event-stream the demo answers its page', () => {
  const r = spawnSync(curlPath(), ['-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code} %{content_type}',
    `${demo.url}/`], { timeout: 10_000 });
  assert.equal(r.status, 0, `curl: ${r.stderr}`);
  assert.equal(r.stdout.toString(), '200 text/html; charset=utf-8');
});
