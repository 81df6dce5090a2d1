/* The ALTCHA widget's proof-of-work worker. The vendored "external" build of the widget ships
 * no inline worker (a blob: worker would break the strict CSP): register the worker file
 * that sits beside it, for the one algorithm our server issues (engine/requests/challenge.py). */
const workerUrl = new URL("vendor/altcha/pbkdf2.js", import.meta.url);
globalThis.$altcha.algorithms.set("PBKDF2/SHA-256", () => new Worker(workerUrl));
