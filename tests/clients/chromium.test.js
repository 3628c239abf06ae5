// Headless Chromium (Debian's, driven by playwright-core) against the demo and the test server:
// the browser checks of lib/browser-checks.js (the demo page, the cases table, reconnection with
// Last-Event-ID, 204 as "stop", CORS). Chromium is the reference: no known quirk.
import { browserChecks } from './lib/browser-checks.js';

browserChecks('chromium');
