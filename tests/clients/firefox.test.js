// Headless Firefox (Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi) against
// the demo and the test server: the browser checks of lib/browser-checks.js (the demo page, the
// cases table, reconnection with Last-Event-ID, 204 as "stop", CORS), with Firefox's known quirk.
import { browserChecks } from './lib/browser-checks.js';

browserChecks('firefox', {
  quirks: {
    cases: {
      // Firefox removes U+0000 from event data (the spec, Chromium and WebKit keep it).
      nul: (spec) => spec.map((e) => ({ ...e, data: e.data.replaceAll('\u0000', '') })),
    },
  },
});
