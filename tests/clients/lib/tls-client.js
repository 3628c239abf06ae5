// Run as a child process by tls.test.js, so that the NODE_EXTRA_CA_CERTS it is started with
// (or not) decides whether Node.js trusts the test CA: Node.js reads it only at startup.
// Usage: node lib/tls-client.js URL COUNT
// Opens the npm `eventsource` client on URL and prints one JSON line, then exits:
//   { events: [data of each `metrics` event], errors: [{ message, code, readyState }], readyState }
// It ends after COUNT `metrics` events, or at the first error (the client then is CLOSED, or
// CONNECTING when it would retry), or after 10 s.
import { EventSource } from 'eventsource';

const [url, count] = [process.argv[2], Number(process.argv[3])];
const source = new EventSource(url);
const events = [];
const errors = [];
let finished = false;

function finish(timedOut = false) {
  if (finished) return;
  finished = true;
  const readyState = source.readyState;
  // Closed on the next turn: the client sets its retry timer after it has dispatched the error,
  // and close() clears that timer only once it is set (else it would hold this process 3 s).
  setImmediate(() => source.close());
  process.stdout.write(JSON.stringify({ events, errors, readyState, timedOut }) + '\n');
  clearTimeout(timer);
}

const timer = setTimeout(() => finish(true), 10_000);
source.addEventListener('metrics', (e) => {
  events.push(e.data);
  if (events.length >= count) finish();
});
source.onerror = (e) => {
  errors.push({ message: e.message ?? null, code: e.code ?? null, readyState: source.readyState });
  finish();
};
