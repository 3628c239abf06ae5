// Opens an EventSource (`Impl`: the npm package's class, or a browser's own) on `url` and
// resolves with every event of `types` it dispatches before the server's `end` event.
// Self-contained: the browser tests send its source to the page.
export function receive(Impl, url, types) {
  return new Promise((resolve, reject) => {
    const source = new Impl(url);
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
