// A text/event-stream reader of our own: node:http (one connection per stream, a Last-Event-ID
// header when asked) and the npm `eventsource-parser`, for the tests that decide themselves
// where and from which id a client reconnects.
import { createParser } from 'eventsource-parser';
import { request } from 'node:http';

/**
 * Opens the stream at `url` (with `Last-Event-ID: lastEventId` unless empty) and calls
 * `onEvent({type, id, data})` for each event it dispatches. Resolves once the answer's head
 * came (200, text/event-stream; within 10 s) with `{ended, close}`: `close()` ends it from here
 * (no event is dispatched after it, not even one later in the same chunk); `ended` resolves
 * when the connection is gone, with 'closed' (by close()) or 'ended' (by the server or the
 * network: the end of the stream, a reset).
 */
export function openStream(url, { lastEventId = '', onEvent }) {
  return new Promise((resolve, reject) => {
    let closed = false;
    let finish;
    const ended = new Promise((r) => (finish = r));
    const headers = { Accept: 'text/event-stream' };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const req = request(url, { headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${url} within 10 s`)), 10_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
      finish(closed ? 'closed' : 'ended');
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      const type = res.headers['content-type'] ?? '';
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        res.resume();
        req.destroy();
        reject(new Error(`${url}: ${res.statusCode} ${type}, not an event stream`));
        return;
      }
      const parser = createParser({
        onEvent: (e) => {
          if (!closed) onEvent({ type: e.event ?? 'message', id: e.id ?? '', data: e.data });
        },
      });
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (!closed) parser.feed(chunk);
      });
      res.on('error', () => {}); // a reset: 'close' follows
      res.on('close', () => finish(closed ? 'closed' : 'ended'));
      resolve({
        ended,
        close() {
          closed = true;
          req.destroy();
        },
      });
    });
    req.end();
  });
}

/** Events as they come, and promises for when they satisfy a condition. */
export class EventLog {
  events = [];
  #waiters = [];

  push(e) {
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => !w.check());
  }

  /** Resolves once `predicate(events)` holds; rejects after `ms` (saying `what`) if it does not. */
  until(predicate, ms, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${what}: not within ${ms} ms (${this.events.length} events so far)`));
      }, ms);
      const waiter = {
        check: () => {
          if (!predicate(this.events)) return false;
          clearTimeout(timer);
          resolve();
          return true;
        },
      };
      if (!waiter.check()) this.#waiters.push(waiter);
    });
  }
}
