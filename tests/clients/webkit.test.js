// WebKitGTK (Debian's, driven by lib/webkit_driver.py under xvfb-run) against the demo and the
// test server: the browser checks of lib/browser-checks.js (the demo page, the cases table,
// reconnection with Last-Event-ID, 204 as "stop", CORS).
import { browserChecks } from './lib/browser-checks.js';

browserChecks('webkit');
