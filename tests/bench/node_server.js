'use strict';
// node_server.js - SSE peer for the asio-sse benchmarks, written the way the
// classic Node SSE tutorial does it: open responses kept in a Set, one
// setInterval broadcasting to all of them.  Node built-ins only (no npm).
//
// usage: node node_server.js [--port P] [--path /events] [--rate R]
//                            [--payload B] [--ticker-ms T] [--max-seconds S]
//                            [--catch-up-ms C]
// Environment defaults: PORT, RATE, PAYLOAD, TICKER_MS.
//
// Each event is "id: N\ndata: <ns> <padding>\n\n" where <ns> is
// process.hrtime.bigint() (CLOCK_MONOTONIC on Linux, the clock sse-load
// reads) and the data value is padded to B bytes.
//   --rate R       broadcast R events/s to every client; above 1000/s the
//                  1 ms interval sends ceil(R/1000) events per tick.
//   --catch-up-ms C  instead of that classic rule, the benchmark's own
//                  (tick_rule.hpp, as sse-bench-server and the C++ peers
//                  publish): a 1 ms setInterval publishing what fell due at R
//                  since the previous tick, at most max(1, ceil(R*C/1000)) events
//                  (the rest slips). C = 1 is the classic rule on a 1 ms tick.
//   --ticker-ms T  instead, every response gets its own setInterval(T)
//                  that sends it one event.
// On SIGTERM or SIGINT it prints its counters to stderr (published, slipped,
// streams opened, the most open at once) and exits.
const http = require('http');

function parseArgs(argv) {
  const env = process.env;
  const opts = {
    port: Number(env.PORT || 8080),
    path: '/events',
    rate: Number(env.RATE || 0),
    payload: Number(env.PAYLOAD || 64),
    tickerMs: Number(env.TICKER_MS || 0),
    maxSeconds: 600,
    catchUpMs: 0, // 0: the classic setInterval rule
  };
  const names = {
    '--port': 'port', '--path': 'path', '--rate': 'rate', '--payload': 'payload',
    '--ticker-ms': 'tickerMs', '--max-seconds': 'maxSeconds', '--catch-up-ms': 'catchUpMs',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      console.error(`usage: node node_server.js ${Object.keys(names).map((n) => `[${n} V]`).join(' ')}`);
      process.exit(2);
    }
    opts[key] = key === 'path' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return opts;
}

const opts = parseArgs(process.argv);

function makeEvent(id) {
  const ts = process.hrtime.bigint().toString();
  const pad = 'x'.repeat(Math.max(0, opts.payload - ts.length - 1));
  return `id: ${id}\ndata: ${ts} ${pad}\n\n`;
}

const clients = new Set();
const counters = { published: 0, slipped: 0, streams: 0, maxStreams: 0 };
let open = 0;

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' || req.url.split('?')[0] !== opts.path) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    'Connection': 'keep-alive',
  });
  // writeHead() only queues the head; like the tutorial, write something
  // right away so the client sees the response before the first event.
  res.write(':ok\n\n');
  counters.streams++;
  counters.maxStreams = Math.max(counters.maxStreams, ++open);
  res.on('close', () => { open--; });

  if (opts.tickerMs > 0) {
    let id = 0;
    const timer = setInterval(() => res.write(makeEvent(id++)), opts.tickerMs);
    res.on('close', () => clearInterval(timer));
  } else {
    clients.add(res);
    res.on('close', () => clients.delete(res));
  }
});

// tick_rule.hpp's rule (the C++ side's single definition), here in JavaScript:
// events fall due at `rate`/s from the start; each tick publishes those due
// since the last, at most `most`; older ones slip.
function makeTickRule(rate, catchUpMs) {
  const start = process.hrtime.bigint();
  const most = Math.max(1, Math.ceil((rate * catchUpMs) / 1000));
  let done = 0; // events published or slipped
  return () => { // -> events to publish now
    const elapsedUs = Number((process.hrtime.bigint() - start) / 1000n);
    const due = Math.floor((elapsedUs * rate) / 1e6);
    if (due - done > most) {
      counters.slipped += due - done - most;
      done = due - most;
    }
    const send = Math.max(0, due - done);
    done += send;
    return send;
  };
}

function broadcast(id) {
  const msg = makeEvent(id);
  for (const res of clients) res.write(msg);
  counters.published++;
}

if (opts.rate > 0 && opts.tickerMs <= 0 && opts.catchUpMs > 0) {
  const due = makeTickRule(opts.rate, opts.catchUpMs);
  let nextId = 0;
  setInterval(() => {
    for (let k = due(); k > 0; k--) broadcast(nextId++);
  }, 1);
} else if (opts.rate > 0 && opts.tickerMs <= 0) {
  const tickMs = opts.rate > 1000 ? 1 : Math.round(1000 / opts.rate);
  const perTick = opts.rate > 1000 ? Math.ceil(opts.rate / 1000) : 1;
  let nextId = 0;
  setInterval(() => {
    for (let k = 0; k < perTick; k++) broadcast(nextId++);
  }, tickMs);
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    console.error(`published ${counters.published} slipped ${counters.slipped} ` +
                  `streams ${counters.streams} max_streams ${counters.maxStreams}`);
    process.exit(0);
  });
}

// Safety cap: the benchmark script kills us long before this.
setTimeout(() => process.exit(0), opts.maxSeconds * 1000);

server.listen({ host: '127.0.0.1', port: opts.port, backlog: 4096 }, () => {
  console.error(`node_server: listening on 127.0.0.1:${opts.port} rate=${opts.rate} ` +
                `payload=${opts.payload} ticker-ms=${opts.tickerMs} catch-up-ms=${opts.catchUpMs}`);
});
