// Headless Chromium (Debian's, driven by playwright-core) POSTing with `fetch` from a page on one
// origin to the streaming examples on another: a chat completion from sse-llm-stream
// --cors-origin (a preflight for Authorization, Content-Type: application/json and
// Last-Event-ID, then the body read chunk by chunk), the same fetch refused for an origin not
// allowed (a TypeError in the page; the server is fine afterwards), and an MCP session with
// sse-mcp-server --allow-origin whose Mcp-Session-Id the page can read (it is exposed) and send
// back. The preflights are seen through the DevTools protocol: Playwright does not report them.
import { createParser } from 'eventsource-parser';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { chromiumPath, startLlmStream, startMcpServer } from './lib/servers.js';

const apiKey = 'sk-cors-test';
const tokenMs = 20;
let browser;
let allowed, other; // two page servers: the origin the examples allow, and one they do not
let llm, mcp;

// A page server on 127.0.0.1 (a port of its own: an origin of its own) serving one blank page.
async function startPageServer() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', Connection: 'close' });
    res.end('<!doctype html><meta charset="utf-8"><title>cors</title>\n');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

before(async () => {
  [allowed, other] = await Promise.all([startPageServer(), startPageServer()]);
  [llm, mcp] = await Promise.all([
    startLlmStream(['--api-key', apiKey, '--token-ms', String(tokenMs), '--cors-origin', allowed.origin]),
    startMcpServer(['--interval-ms', '20', '--allow-origin', allowed.origin]),
  ]);
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
});
after(async () => {
  await browser?.close();
  await Promise.all([llm?.stop(), mcp?.stop(), allowed?.close(), other?.close()]);
});

// Runs `fn(page, preflights)` in a fresh page (a fresh context: no cached preflight) opened at
// `origin`; `preflights` fills with every OPTIONS the page sends:
// {url, asked (Access-Control-Request-Headers), status, headers (of the answer, lower case)}.
async function withPage(origin, fn) {
  const page = await browser.newPage();
  try {
    const preflights = [];
    const byId = new Map();
    const cdp = await page.context().newCDPSession(page);
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.method !== 'OPTIONS') return;
      const asked = Object.entries(e.request.headers).find(([k]) => k.toLowerCase() === 'access-control-request-headers');
      const p = { url: e.request.url, asked: asked?.[1] ?? null, status: undefined, headers: {} };
      byId.set(e.requestId, p);
      preflights.push(p);
    });
    cdp.on('Network.responseReceived', (e) => {
      const p = byId.get(e.requestId);
      if (!p) return;
      p.status = e.response.status;
      for (const [k, v] of Object.entries(e.response.headers)) p.headers[k.toLowerCase()] = v;
    });
    await cdp.send('Network.enable');
    await page.goto(`${origin}/`);
    return await fn(page, preflights);
  } finally {
    await page.close();
  }
}

// Polls `check()` (sync or async) until it returns a truthy value (at most 5 s).
async function eventually(check, what) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await sleep(10);
  }
}

// The data of every event in `text` (a text/event-stream body).
function eventData(text) {
  const data = [];
  const parser = createParser({ onEvent: (e) => data.push(e.data) });
  parser.feed(text);
  return data;
}

// A list header ("a, B,c") as lower-case names.
const names = (value) => (value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

async function stats() {
  const r = await fetch(`${llm.url}/stats`);
  assert.equal(r.status, 200);
  return r.json();
}

const words = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

// In the page: the chat completion POST, its body read with a reader. Resolves with the status,
// the type and every chunk read (as text), or with the error `fetch` threw.
function chatInPage(page, { url, key, text }) {
  return page.evaluate(async ({ url, key, text }) => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Last-Event-ID': '0' },
        body: JSON.stringify({ model: 'echo', stream: true, messages: [{ role: 'user', content: text }] }),
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const chunks = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(decoder.decode(value, { stream: true }));
      }
      return { status: response.status, type: response.headers.get('content-type'), chunks };
    } catch (e) {
      return { error: { name: e.name, message: e.message } };
    }
  }, { url, key, text });
}

test('cors: a page on an allowed origin POSTs for a chat stream (after a preflight) and reads it chunk by chunk', { timeout: 30_000 }, async () => {
  const n = 8;
  const url = `${llm.url}/v1/chat/completions`;
  const { got, preflights } = await withPage(allowed.origin, async (page, preflights) => ({
    got: await chatInPage(page, { url, key: apiKey, text: words(n) }),
    preflights,
  }));
  assert.equal(got.error, undefined, JSON.stringify(got.error));
  assert.equal(got.status, 200);
  assert.match(got.type, /^text\/event-stream/);

  // One preflight, for the three headers no simple request may carry, and the grant of them.
  await eventually(() => preflights.length === 1 && preflights[0].status !== undefined, 'the preflight answer');
  const [preflight] = preflights;
  assert.equal(preflight.url, url);
  assert.deepEqual(names(preflight.asked).sort(), ['authorization', 'content-type', 'last-event-id']);
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], allowed.origin);
  assert.ok(names(preflight.headers['access-control-allow-methods']).includes('post'), JSON.stringify(preflight.headers));
  for (const h of ['authorization', 'content-type', 'last-event-id'])
    assert.ok(names(preflight.headers['access-control-allow-headers']).includes(h), JSON.stringify(preflight.headers));

  // Read as it came (the role, then a word every tokenMs): several reads, the words in order,
  // the finish, [DONE] last.
  assert.ok(got.chunks.length > 1, `the whole stream in ${got.chunks.length} read`);
  const data = eventData(got.chunks.join(''));
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.equal(chunks.length, n + 2);
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  assert.deepEqual(chunks.slice(1, -1).map((c) => c.choices[0].delta.content), words(n).split(' ').map((w, i) => (i ? ` ${w}` : w)));
  assert.deepEqual(chunks.at(-1).choices[0], { index: 0, delta: {}, finish_reason: 'stop' });
  const { id } = chunks[0];
  assert.ok(chunks.every((c) => c.id === id && c.object === 'chat.completion.chunk'));
  const run = await eventually(async () => (await stats()).runs.find((r) => r.id === id && r.state !== 'running'), `run ${id}`);
  assert.deepEqual(run, { id, tokens: n, of: n, state: 'finished' });
});

test('cors: the same fetch from an origin not allowed fails with a TypeError, and the server goes on', { timeout: 30_000 }, async () => {
  const url = `${llm.url}/v1/chat/completions`;
  const before = await stats();
  const { got, preflights } = await withPage(other.origin, async (page, preflights) => ({
    got: await chatInPage(page, { url, key: apiKey, text: 'not for you' }),
    preflights,
  }));
  assert.equal(got.error?.name, 'TypeError', JSON.stringify(got));

  // The preflight was refused (no grant), so the POST never went out: no generator started.
  await eventually(() => preflights.length === 1 && preflights[0].status !== undefined, 'the preflight answer');
  assert.equal(preflights[0].status, 403);
  assert.equal(preflights[0].headers['access-control-allow-origin'], undefined);
  assert.equal((await stats()).started, before.started);

  // Healthy: a Node client (no Origin: no CORS) gets its whole stream.
  const r = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'still here' }] }),
  });
  assert.equal(r.status, 200);
  const data = eventData(await r.text());
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(data.slice(0, -1).map((d) => JSON.parse(d).choices[0].delta.content ?? '').join(''), 'still here');
});

test('cors: an MCP page reads the exposed Mcp-Session-Id, sends it back, lists the tools and streams a call', { timeout: 30_000 }, async () => {
  const got = await withPage(allowed.origin, async (page, preflights) => ({
    ...await page.evaluate(async (url) => {
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
      const post = (message, extra = {}) =>
        fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify({ jsonrpc: '2.0', ...message }) });

      const init = await post({ id: 1, method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'chromium', version: '1' } } });
      const sid = init.headers.get('Mcp-Session-Id');
      const initialized = await init.json();
      const session = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': initialized.result.protocolVersion };

      const list = await post({ id: 2, method: 'tools/list' }, session);
      const listed = await list.json();

      // tools/call answers with a stream, whose head carries the session id too.
      const call = await post({ id: 3, method: 'tools/call',
        params: { name: 'count', arguments: { n: 3 }, _meta: { progressToken: 'p' } } }, session);
      const reader = call.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      return {
        sid, init: [init.status, init.headers.get('content-type')], initialized,
        list: [list.status, list.headers.get('content-type')], listed,
        call: [call.status, call.headers.get('content-type'), call.headers.get('Mcp-Session-Id')], text,
      };
    }, `${mcp.url}/mcp`),
    preflights,
  }));

  assert.match(got.sid ?? '', /^[\x21-\x7e]+$/, 'the page could not read Mcp-Session-Id: not exposed');
  assert.deepEqual(got.init, [200, 'application/json']);
  assert.equal(got.initialized.result.protocolVersion, '2025-06-18');
  assert.equal(got.initialized.result.serverInfo.name, 'asio-sse-mcp');

  assert.deepEqual(got.list, [200, 'application/json']);
  assert.equal(got.listed.id, 2);
  assert.deepEqual(got.listed.result.tools.map((t) => t.name), ['count']);

  assert.deepEqual(got.call, [200, 'text/event-stream; charset=utf-8', got.sid]);
  const messages = eventData(got.text).map((d) => JSON.parse(d));
  assert.deepEqual(messages.map((m) => m.params?.progress ?? m.result?.content[0].text), [1, 2, 3, 'Counted to 3.']);
  assert.equal(messages.at(-1).id, 3);

  // Content-Type: application/json and the session headers asked for a preflight (the browser
  // may answer the later ones from its preflight cache); each was granted.
  await eventually(() => got.preflights.length >= 1 && got.preflights.every((p) => p.status !== undefined), 'the preflights');
  for (const p of got.preflights) {
    assert.equal(p.status, 204);
    assert.equal(p.headers['access-control-allow-origin'], allowed.origin);
    assert.deepEqual(names(p.headers['access-control-allow-headers']).filter((h) => h !== 'last-event-id').sort(),
      ['content-type', 'mcp-protocol-version', 'mcp-session-id']);
  }
});
