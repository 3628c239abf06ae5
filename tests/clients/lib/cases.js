// The cases table (../cases.json, also read by client_server.cpp) and what a client must
// dispatch for each case.
import { readFileSync } from 'node:fs';

export const cases = JSON.parse(readFileSync(new URL('../cases.json', import.meta.url), 'utf8'));

// A table string: "text", or {"repeat": "text", "times": N}; "{n}" becomes `n` when n > 0.
function text(value, n) {
  const s = typeof value === 'object' ? value.repeat.repeat(value.times) : value;
  return n > 0 ? s.replaceAll('{n}', String(n)) : s;
}

/** The events of case `c` as the server sends them: {data, type?, id?, retry?}. */
export function sent(c) {
  const out = [];
  const repeat = c.repeat ?? 0;
  for (let n = repeat ? 1 : 0; n <= repeat; ++n) {
    for (const e of c.events) {
      const ev = { data: text(e.data, n) };
      if (e.type !== undefined) ev.type = text(e.type, n);
      if (e.id !== undefined) ev.id = text(e.id, n);
      if (e.retry !== undefined) ev.retry = e.retry;
      out.push(ev);
    }
  }
  return out;
}

/** Data as every client reads it: CR and CRLF arrive as LF (the documented loss). */
export const asReceived = (data) => data.replace(/\r\n?/g, '\n');

/** What an EventSource must dispatch for case `c`, per the WHATWG rules: CR and CRLF in data
    arrive as LF; no type means `message`; lastEventId is the last id seen so far. */
export function dispatched(c) {
  let lastEventId = '';
  return sent(c).map((e) => {
    if (e.id !== undefined) lastEventId = e.id;
    return { type: e.type ?? 'message', data: asReceived(e.data), lastEventId };
  });
}

/** Every event type case `c` uses, plus the `end` marker the server sends after it. */
export function typesOf(c) {
  return [...new Set(['message', 'end', ...dispatched(c).map((e) => e.type)])];
}
