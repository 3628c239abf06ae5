// HTTP/2 against real clients: the HTTP/2 dashboard (examples/http2_dashboard.cpp), whose page
// opens 50 EventSources (one per widget) on its own origin. Over h2 headless Chromium runs all of
// them on one connection; over HTTP/1.1 (the same program with --http1) it stops at six, its
// connection limit per origin, and the other widgets never start. Then curl (h2 by ALPN, a
// Last-Event-ID replay; h2c with prior knowledge on the cleartext dashboard, and HTTP/1.1 on the
// same port) and nghttp (nghttp2's own client). HTTPS with a throwaway certificate (lib/pki.js)
// that the clients are told to accept (Chromium's ignoreHTTPSErrors, curl -k; nghttp only warns).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { launch } from './lib/browsers.js';
import { makePki } from './lib/pki.js';
import { curlPath, nghttpPath, startHttp2Dashboard } from './lib/servers.js';

const intervalMs = 200; // a tick every 200 ms: a 3 s curl sees about 15
const widgets = 50;
let pki;
let h2; // HTTPS, h2 offered first by ALPN
let h1; // HTTPS with --http1: ALPN offers http/1.1 only
let cleartext; // no certificate: h2c with prior knowledge, else HTTP/1.1
let browser;

// One after the other, not Promise.all: whatever started is assigned, so after() stops it.
before(async () => {
  pki = makePki('asio-sse-http2-');
  h2 = await startHttp2Dashboard({ cert: pki.cert, key: pki.key, intervalMs });
  h1 = await startHttp2Dashboard({ cert: pki.cert, key: pki.key, http1: true, intervalMs });
  cleartext = await startHttp2Dashboard({ intervalMs });
  browser = await launch('chromium', { ignoreHTTPSErrors: true, recordResponses: true });
});
after(async () => {
  await browser?.close();
  await Promise.all([h2?.stop(), h1?.stop(), cleartext?.stop()]);
  pki?.cleanup();
});

// In the page: how many widgets received at least one event.
const liveCount = 'window.received.filter((c) => c > 0).length';
const navigationProtocol = "performance.getEntriesByType('navigation')[0].nextHopProtocol";
// Resource timing lists a resource once its body has ended: an event stream never ends, so the
// widget streams are normally absent here (page.responses(), from Chromium's network stack, has
// them); whatever of them does appear must have the protocol too.
const streamTimingProtocols =
  "performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.startsWith('/widgets/')).map((e) => e.nextHopProtocol)";
const widgetStreams = (page) => page.responses().filter((r) => new URL(r.url).pathname.startsWith('/widgets/'));

test('http2: Chromium runs all 50 widget streams over one h2 connection', { timeout: 60_000 }, async (t) => {
  const page = await browser.open(`https://localhost:${h2.port}/?n=${widgets}`);
  try {
    await page.waitFor('window.received.every((c) => c > 0)', 30_000);
    assert.equal(await page.evaluate("document.getElementById('live').textContent"), String(widgets));
    assert.equal(await page.evaluate(navigationProtocol), 'h2');
    for (const protocol of await page.evaluate(streamTimingProtocols)) assert.equal(protocol, 'h2');
    const streams = widgetStreams(page);
    assert.equal(streams.length, widgets, JSON.stringify(streams));
    assert.deepEqual([...new Set(streams.map((r) => r.protocol))], ['h2'], JSON.stringify(streams));
    // All on one connection (the page's own): HTTP/2 multiplexes them.
    const connections = new Set(page.responses().map((r) => r.connectionId));
    t.diagnostic(`h2: ${widgets} widgets live over ${connections.size} connection(s)`);
    assert.equal(connections.size, 1, JSON.stringify(page.responses()));
  } finally {
    await page.close();
  }
});

test('http2: over HTTP/1.1 (--http1) Chromium stops at six live widgets', { timeout: 60_000 }, async (t) => {
  const page = await browser.open(`https://localhost:${h1.port}/?n=${widgets}`);
  try {
    assert.equal(await page.evaluate(navigationProtocol), 'http/1.1');
    // Six connections per origin: the page's own, idle once it loaded, carries the first stream,
    // five more the next ones (or the favicon takes one for a moment); the 44 others wait.
    await page.waitFor(`${liveCount} >= 6`, 30_000);
    // A bounded observation window, the only fixed wait here: it waits for nothing to arrive but
    // shows that for 3 s (some 15 ticks) no seventh widget starts while the six keep receiving.
    const start = await page.evaluate('window.received');
    await delay(3_000);
    const end = await page.evaluate('window.received');
    const live = end.filter((c) => c > 0).length;
    t.diagnostic(`http/1.1: ${live} of ${widgets} widgets live after the 3 s window`);
    assert.ok(live >= 1 && live <= 6, JSON.stringify(end));
    end.forEach((c, i) => {
      if (start[i] > 0) assert.ok(c > start[i], `widget ${i} stopped receiving: ${JSON.stringify({ start, end })}`);
    });
    for (const protocol of await page.evaluate(streamTimingProtocols)) assert.equal(protocol, 'http/1.1');
    const streams = widgetStreams(page);
    assert.ok(streams.length <= 6, JSON.stringify(streams));
    assert.deepEqual([...new Set(streams.map((r) => r.protocol))], ['http/1.1'], JSON.stringify(streams));
    t.diagnostic(`http/1.1: ${streams.length} streams answered, over ${new Set(streams.map((r) => r.connectionId)).size} connections`);
  } finally {
    await page.close();
  }
});

// `curl -sS -N --max-time maxTimeS ...args url`, ended by its timeout (exit 28: an event stream
// does not end by itself): {body, httpVersion} (%{http_version}, written after the body).
function curlStream(url, maxTimeS, ...args) {
  const r = spawnSync(curlPath(), ['-sS', '-N', '--max-time', String(maxTimeS), '--write-out', '\n%{http_version}',
    ...args, url], { timeout: 15_000, encoding: 'utf8' });
  assert.equal(r.status, 28, `curl ${args.join(' ')} ${url}: ${r.status ?? r.signal} ${r.stderr}`);
  const cut = r.stdout.lastIndexOf('\n');
  return { body: r.stdout.slice(0, cut), httpVersion: r.stdout.slice(cut + 1) };
}

// The complete `tick` events of an event-stream body, {id, data} as numbers; what follows the
// last blank line is dropped (empty, or an event the timeout cut short).
function ticksOf(body) {
  const blocks = body.split('\n\n').slice(0, -1);
  return blocks.map((block) => Object.fromEntries(block.split('\n').map((line) => {
    const colon = line.indexOf(': ');
    return colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 2)];
  }))).filter((e) => e.event === 'tick').map((e) => ({ id: Number(e.id), data: Number(e.data) }));
}

// Ticks that follow each other: no gap, no duplicate, data the same number as the id.
function assertConsecutive(ticks) {
  ticks.forEach((e, i) => {
    assert.equal(e.id, ticks[0].id + i, JSON.stringify(ticks));
    assert.equal(e.data, e.id, JSON.stringify(ticks));
  });
}

test('http2: curl --http2 gets h2 by ALPN, and Last-Event-ID replays from the next id', { timeout: 30_000 }, () => {
  const first = curlStream(`${h2.url}/widgets/1`, 3, '--http2', '-k');
  assert.equal(first.httpVersion, '2');
  const ticks = ticksOf(first.body);
  assert.ok(ticks.length >= 3, JSON.stringify(first.body));
  assertConsecutive(ticks);

  // Back from one before the last seen: the channel's history gives k + 1 first (the last seen
  // again, and what was published while curl was away), then live ones, with nothing missing.
  const k = ticks.at(-1).id - 1;
  const again = curlStream(`${h2.url}/widgets/1`, 2, '--http2', '-k', '-H', `Last-Event-ID: ${k}`);
  assert.equal(again.httpVersion, '2');
  const replayed = ticksOf(again.body);
  assert.ok(replayed.length >= 1, JSON.stringify(again.body));
  assert.equal(replayed[0].id, k + 1, JSON.stringify(replayed));
  assertConsecutive(replayed);
});

test('http2: nghttp negotiates h2 and reads a widget stream', { timeout: 30_000 }, () => {
  // nghttp has no overall deadline (-t is per request, and a stream never ends), so it is ended
  // here: spawnSync sends SIGTERM after 2.5 s. nghttp writes as frames arrive, nothing is lost.
  const r = spawnSync(nghttpPath(), ['-v', `${h2.url}/widgets/2`], { timeout: 2_500, encoding: 'utf8' });
  assert.equal(r.signal, 'SIGTERM', `nghttp ended by itself (${r.status}): ${r.stderr}\n${r.stdout}`);
  assert.match(r.stdout, /^The negotiated protocol: h2$/m, r.stdout);
  assert.match(r.stdout, /\) :status: 200$/m, r.stdout);
  assert.match(r.stdout, /\) content-type: text\/event-stream/m, r.stdout);
  const ticks = ticksOf(r.stdout.split('\n').filter((line) => !line.startsWith('[') && !line.startsWith(' ')).join('\n'));
  assert.ok(ticks.length >= 1, r.stdout);
  assertConsecutive(ticks);
});

test('http2: h2c with prior knowledge on the cleartext port, HTTP/1.1 on the same port', { timeout: 30_000 }, () => {
  const h2c = curlStream(`${cleartext.url}/widgets/1`, 2, '--http2-prior-knowledge');
  assert.equal(h2c.httpVersion, '2');
  const h2cTicks = ticksOf(h2c.body);
  assert.ok(h2cTicks.length >= 1, JSON.stringify(h2c.body));
  assertConsecutive(h2cTicks);

  const http11 = curlStream(`${cleartext.url}/widgets/1`, 2, '--http1.1');
  assert.equal(http11.httpVersion, '1.1');
  const http11Ticks = ticksOf(http11.body);
  assert.ok(http11Ticks.length >= 1, JSON.stringify(http11.body));
  assertConsecutive(http11Ticks);
});
