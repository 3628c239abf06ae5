// The MCP server (examples/mcp_server.cpp) through the official SDK's `Client` and
// `StreamableHTTPClientTransport`: initialize opens a session, tools/list lists the `count`
// tool, tools/call streams its progress notifications and then its result; a tools/call stream
// that breaks off is resumed with `Last-Event-ID` on a GET and nothing is lost or repeated;
// DELETE ends the session (404 afterwards); a foreign Origin gets 403 and bad JSON 400/-32700.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, ListResourcesResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMcpServer } from './lib/servers.js';

const intervalMs = 20;
const allowedOrigin = 'http://app.example';
let server; // the plain server
let flaky;  // the same, breaking off every tools/call stream after its 3rd event
before(async () => {
  [server, flaky] = await Promise.all([
    startMcpServer(['--interval-ms', String(intervalMs), '--allow-origin', allowedOrigin]),
    startMcpServer(['--interval-ms', String(intervalMs), '--drop-after', '3']),
  ]);
});
after(() => Promise.all([server?.stop(), flaky?.stop()]));

// A fetch for the transport that records every request it makes and what came back.
function recordingFetch() {
  const log = [];
  const recorded = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const entry = {
      method: init.method ?? 'GET',
      lastEventId: headers.get('last-event-id'),
      rpc: typeof init.body === 'string' ? JSON.parse(init.body).method : undefined,
    };
    log.push(entry);
    const response = await fetch(url, init);
    entry.status = response.status;
    entry.type = response.headers.get('content-type');
    return response;
  };
  return { fetch: recorded, log };
}

// A connected client on `base`: `{client, transport, log, errors}`.
async function connect(base, options = {}) {
  const { fetch: recorded, log } = recordingFetch();
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), {
    fetch: recorded,
    reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 500, reconnectionDelayGrowFactor: 1.5, maxRetries: 3 },
    ...options,
  });
  const client = new Client({ name: 'asio-sse-test', version: '1.0.0' });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  return { client, transport, log, errors };
}

// Polls `check()` until it returns a truthy value (at most 5 s).
async function eventually(check, what) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await sleep(10);
  }
}

// A raw POST of `body` (a string) to the endpoint, as the SDK would send it.
const post = (base, body, headers = {}) => fetch(new URL('/mcp', base), {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
  body,
});

const initialize = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

test('mcp: connect, list the tools, call one with progress, in order, then its result', { timeout: 20_000 }, async () => {
  const { client, transport, log, errors } = await connect(server.url);
  try {
    assert.match(transport.sessionId, /^[\x21-\x7e]+$/);
    assert.equal(client.getServerVersion().name, 'asio-sse-mcp');
    assert.ok(client.getServerCapabilities().tools);
    assert.ok(['2025-06-18', '2025-03-26'].includes(transport.protocolVersion), transport.protocolVersion);
    // After notifications/initialized (202), the SDK opens the session's GET stream.
    assert.deepEqual(log.slice(0, 2).map((r) => [r.method, r.rpc, r.status]),
      [['POST', 'initialize', 200], ['POST', 'notifications/initialized', 202]]);
    const listener = await eventually(() => log.find((r) => r.method === 'GET' && r.status !== undefined), 'the GET stream');
    assert.deepEqual([listener.status, listener.type], [200, 'text/event-stream; charset=utf-8']);

    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['count']);
    assert.equal(tools[0].inputSchema.type, 'object');
    assert.deepEqual(tools[0].inputSchema.required, ['n']);

    const n = 6;
    const progress = [];
    const result = await client.callTool({ name: 'count', arguments: { n } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    assert.deepEqual(progress.map((p) => [p.progress, p.total]), Array.from({ length: n }, (_, i) => [i + 1, n]));
    assert.deepEqual(result.content, [{ type: 'text', text: `Counted to ${n}.` }]);
    const call = log.find((r) => r.rpc === 'tools/call');
    assert.deepEqual([call.status, call.type], [200, 'text/event-stream; charset=utf-8']);

    // Without a progress token: the same result, no notifications.
    const quiet = await client.callTool({ name: 'count', arguments: { n: 2 } });
    assert.deepEqual(quiet.content, [{ type: 'text', text: 'Counted to 2.' }]);

    // Protocol errors: an unknown tool or bad arguments (-32602), an unknown method (-32601).
    await assert.rejects(client.callTool({ name: 'nope', arguments: {} }),
      (e) => e instanceof McpError && e.code === ErrorCode.InvalidParams);
    await assert.rejects(client.callTool({ name: 'count', arguments: { n: 0 } }),
      (e) => e instanceof McpError && e.code === ErrorCode.InvalidParams);
    await assert.rejects(client.request({ method: 'resources/list' }, ListResourcesResultSchema),
      (e) => e instanceof McpError && e.code === ErrorCode.MethodNotFound);
    assert.deepEqual(errors, []);
  } finally {
    await client.close();
  }
});

test('mcp: a tools/call stream that breaks off resumes with Last-Event-ID, nothing lost or repeated', { timeout: 20_000 }, async () => {
  const { client, log, errors } = await connect(flaky.url);
  try {
    const n = 8;
    const progress = [];
    const tokens = [];
    const result = await client.callTool({ name: 'count', arguments: { n } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
      onresumptiontoken: (t) => tokens.push(t),
    });
    assert.deepEqual(progress, Array.from({ length: n }, (_, i) => i + 1));
    assert.deepEqual(result.content, [{ type: 'text', text: `Counted to ${n}.` }]);

    // The POST's stream carried 3 events; the client came back on a GET with the third's id
    // and got the rest (n - 3 progress notifications and the result) there.
    assert.equal(tokens.length, n + 1);
    assert.equal(new Set(tokens).size, tokens.length);
    const resumes = log.filter((r) => r.method === 'GET' && r.lastEventId);
    assert.deepEqual(resumes.map((r) => [r.lastEventId, r.status, r.type]),
      [[tokens[2], 200, 'text/event-stream; charset=utf-8']]);
    // The break is a clean end of the body, not a transport error.
    assert.deepEqual(errors, []);
  } finally {
    await client.close();
  }
});

test('mcp: a GET with Last-Event-ID replays the rest of a broken-off call, then ends', { timeout: 20_000 }, async () => {
  const init = await post(flaky.url, initialize);
  const sid = init.headers.get('mcp-session-id');
  const session = { 'mcp-session-id': sid };
  const call = await post(flaky.url, JSON.stringify({
    jsonrpc: '2.0', id: 2, method: 'tools/call',
    params: { name: 'count', arguments: { n: 4 }, _meta: { progressToken: 'p' } },
  }), session);
  const first = await call.text(); // the body ends after 3 events (--drop-after 3)
  const ids = [...first.matchAll(/^id: (.+)$/gm)].map((m) => m[1]);
  assert.equal(ids.length, 3);
  await sleep(intervalMs * 4); // the call goes on without a reader (and has likely finished: either way works)
  const rest = await fetch(new URL('/mcp', flaky.url), { headers: { accept: 'text/event-stream', 'last-event-id': ids[2], ...session } });
  assert.equal(rest.status, 200);
  const events = (await rest.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(/^data: (.*)$/m.exec(e)[1]));
  assert.deepEqual(events.map((m) => m.params?.progress ?? m.result.content[0].text), [4, 'Counted to 4.']);
  assert.equal(events[1].id, 2);
});

test('mcp: a cancelled call stops; its stream ends and a resume gets 204 (no reconnect loop)', { timeout: 20_000 }, async () => {
  const { client, log } = await connect(server.url);
  try {
    const n = 1000; // 20 s of counting, unless cancelled
    const abort = new AbortController();
    const progress = [];
    const tokens = [];
    const call = client.callTool({ name: 'count', arguments: { n } }, undefined, {
      signal: abort.signal,
      onprogress: (p) => {
        progress.push(p.progress);
        if (p.progress === 2) abort.abort('enough');
      },
      onresumptiontoken: (t) => tokens.push(t),
    });
    await assert.rejects(call);
    assert.deepEqual(progress, [1, 2]);
    // The SDK told the server (notifications/cancelled, 202); the server ended the call and its
    // stream; the SDK came back once with the last id it had and was told "no more" (204).
    const cancelled = await eventually(() => log.find((r) => r.rpc === 'notifications/cancelled' && r.status), 'the cancellation');
    assert.equal(cancelled.status, 202);
    const resume = await eventually(() => log.find((r) => r.lastEventId && r.status), 'the resume');
    assert.equal(resume.status, 204);
    assert.equal(resume.lastEventId, tokens.at(-1));
    assert.ok(tokens.length < 10, `${tokens.length} events: the call went on`);
    await sleep(200); // the client's reconnection delay is 50 ms: it would have come back by now
    assert.equal(log.filter((r) => r.lastEventId).length, 1);
  } finally {
    await client.close();
  }
});

test('mcp: terminateSession (DELETE) ends the session; its id then gets 404', { timeout: 20_000 }, async () => {
  const { client, transport } = await connect(server.url);
  const sid = transport.sessionId;
  try {
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
  } finally {
    await client.close();
  }
  const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  const gone = await post(server.url, list, { 'mcp-session-id': sid });
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).error.code, -32001);
  const stream = await fetch(new URL('/mcp', server.url), { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
  assert.equal(stream.status, 404);
  await stream.body?.cancel();
  const again = await fetch(new URL('/mcp', server.url), { method: 'DELETE', headers: { 'mcp-session-id': sid } });
  assert.equal(again.status, 404);
  await again.body?.cancel();
  // Without the header at all: 400.
  const anonymous = await post(server.url, list);
  assert.equal(anonymous.status, 400);
  await anonymous.body?.cancel();
});

test('mcp: a foreign Origin gets 403; an allowed one gets through', { timeout: 20_000 }, async () => {
  const foreign = await post(server.url, initialize, { origin: 'http://evil.example' });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers.get('mcp-session-id'), null);
  assert.equal((await foreign.json()).error.code, -32000);

  const { client } = await connect(server.url, { requestInit: { headers: { origin: allowedOrigin } } });
  try {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['count']);
  } finally {
    await client.close();
  }
});

test('mcp: bad JSON gets 400 with a JSON-RPC parse error (-32700)', { timeout: 20_000 }, async () => {
  const r = await post(server.url, '{"jsonrpc": "2.0", "id": 1, "method": ');
  assert.equal(r.status, 400);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const body = await r.json();
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, null);
  assert.equal(body.error.code, -32700);
});
