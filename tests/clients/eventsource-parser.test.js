// Every case of the table, read with fetch() and parsed by `eventsource-parser`: it must
// produce exactly the events (type, data, id) and retry values the server meant, and nothing else.
import { createParser } from 'eventsource-parser';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { asReceived, cases, sent } from './lib/cases.js';
import { startClientServer } from './lib/servers.js';

let server;
before(async () => {
  server = await startClientServer();
});
after(() => server?.stop());

// Fetches `url` as an event stream and resolves with what the parser reported before `end`.
async function parse(url) {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream' }, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const seen = { events: [], retries: [], errors: [] };
  let ended = false;
  const parser = createParser({
    onEvent: (e) => {
      if (e.event === 'end') ended = true;
      else if (!ended) seen.events.push({ type: e.event, data: e.data, id: e.id });
    },
    onRetry: (ms) => seen.retries.push(ms),
    onError: (e) => seen.errors.push(e.message),
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (ended) break;
  }
  controller.abort();
  assert.ok(ended, 'the stream ended before the `end` event');
  return seen;
}

for (const c of cases) {
  test(`eventsource-parser: ${c.name}`, { timeout: 15_000 }, async () => {
    const expected = sent(c);
    const seen = await parse(server.tricky(c));
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.retries, expected.filter((e) => e.retry !== undefined).map((e) => e.retry));
    assert.deepEqual(
      seen.events,
      expected.map((e) => ({ type: e.type, data: asReceived(e.data), id: e.id })),
    );
  });
}
