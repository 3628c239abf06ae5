// Every case of the table, through the npm `eventsource` client (the WHATWG EventSource for
// Node.js): it must dispatch exactly the type, data and lastEventId the server meant.
// Note: this client sets lastEventId from the event's own id only (browsers keep the last one
// seen), so a case that mixes events with and without ids would need its own expectation.
import { EventSource } from 'eventsource';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cases, dispatched, typesOf } from './lib/cases.js';
import { receive } from './lib/receive.js';
import { startClientServer } from './lib/servers.js';

let server;
before(async () => {
  server = await startClientServer();
});
after(() => server?.stop());

for (const c of cases) {
  test(`eventsource: ${c.name}`, { timeout: 15_000 }, async () => {
    const got = await receive(EventSource, server.tricky(c), typesOf(c));
    assert.deepEqual(got, dispatched(c));
  });
}
