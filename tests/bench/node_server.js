'use strict';
// node_server.js - SSE peer for the asio-sse benchmarks, written the way the
// classic Node SSE tutorial does it: open responses kept in a Set, one
// setInterval broadcasting to all of them.  Node built-ins only (no npm).
//
// usage: node node_server.js [--port P] [--path /events] [--rate R]
//                            [--payload B] [--ticker-ms T] [--max-seconds S]
// Environment defaults: PORT, RATE, PAYLOAD, TICKER_MS.
//
// Each event is "id: N\ndata: <ns> <padding>\n\n" where <ns> is
// process.hrtime.bigint() (CLOCK_MONOTONIC on Linux, the clock sse-load
// reads) and the data value is padded to B bytes.
//   --rate R       broadcast R events/s to every client; above 1000/s the
//                  1 ms interval sends ceil(R/1000) events per tick.
//   --ticker-ms T  instead, every response gets its own setInterval(T)
//                  that sends it one event.
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
  };
  const names = {
    '--port': 'port', '--path': 'path', '--rate': 'rate', '--payload': 'payload',
    '--ticker-ms': 'tickerMs', '--max-seconds': 'maxSeconds',
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

  if (opts.tickerMs > 0) {
    let id = 0;
    const timer = setInterval(() => res.write(makeEvent(id++)), opts.tickerMs);
    res.on('close', () => clearInterval(timer));
  } else {
    clients.add(res);
    res.on('close', () => clients.delete(res));
  }
});

if (opts.rate > 0 && opts.tickerMs <= 0) {
  const tickMs = opts.rate > 1000 ? 1 : Math.round(1000 / opts.rate);
  const perTick = opts.rate > 1000 ? Math.ceil(opts.rate / 1000) : 1;
  let nextId = 0;
  setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      const msg = makeEvent(nextId++);
      for (const res of clients) res.write(msg);
    }
  }, tickMs);
}

// Safety cap: the benchmark script kills us long before this.
setTimeout(() => process.exit(0), opts.maxSeconds * 1000);

server.listen({ host: '127.0.0.1', port: opts.port, backlog: 4096 }, () => {
  console.error(`node_server: listening on 127.0.0.1:${opts.port} rate=${opts.rate} ` +
                `payload=${opts.payload} ticker-ms=${opts.tickerMs}`);
});
