/* The ALTCHA widget, its Greek words and its proof-of-work worker, set up in one task.
 *
 * The vendored "external" build of the widget ships no inline worker (a blob: worker would
 * break the strict CSP): we register the worker file that sits beside it, for the one
 * algorithm our server issues (engine/requests/challenge.py). The widget starts solving a
 * moment after it is defined (auto="onload"); imported from here, the widget and the Greek
 * words are evaluated first and the registration below runs right after them, before any
 * timer can fire. Loaded as separate scripts, a busy browser could start the widget in
 * between and end in "Verification failed". */
import "./vendor/altcha/altcha.min.js";
import "./vendor/altcha/el.js";

const workerUrl = new URL("vendor/altcha/pbkdf2.js", import.meta.url);
globalThis.$altcha.algorithms.set("PBKDF2/SHA-256", () => new Worker(workerUrl));
