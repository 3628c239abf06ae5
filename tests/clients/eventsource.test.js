// Every case of the table, through the npm `eventsource` client (the WHATWG EventSource for
// Node.js): it must dispatch exactly the type, data and lastEventId the server meant.
// Note: this client sets lastEventId from the event's own id only (browsers keep the last one
// seen), so a case that mixes events with and without ids would need its own expectation.
import { EventSource } from 'eventsource';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cases, dispatched, typesOf } from './lib/cases.js';
import { startClientServer } from './lib/servers.js';

let server;
before(async () => {
  server = await startClientServer();
});
after(() => server?.stop());

// Opens an EventSource on `url` and resolves with every event of `types` before `end`.
function receive(url, types) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(url);
    const got = [];
    for (const type of types) {
      source.addEventListener(type, (e) => {
        if (type !== 'end') return void got.push({ type, data: e.data, lastEventId: e.lastEventId });
        source.close();
        resolve(got);
      });
    }
    source.onerror = (e) => {
      source.close();
      reject(new Error(`EventSource error after ${got.length} events: ${e.message ?? e.type}`));
    };
  });
}

for (const c of cases) {
  test(`eventsource: ${c.name}`, { timeout: 15_000 }, async () => {
    const got = await receive(`${server.url}/tricky?case=${encodeURIComponent(c.name)}`, typesOf(c));
    assert.deepEqual(got, dispatched(c));
  });
}
