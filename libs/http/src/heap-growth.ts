import { setFlagsFromString } from 'node:v8';

/**
 * Caps how far V8 lets the old generation grow past what the last full collection left alive, to
 * `percent` %; 0 leaves V8's own factor (up to 4× when collections are cheap).
 *
 * Why: under load a service promotes many short-lived objects (a request's buffers and promises
 * outliving two scavenges while its charge or statement is in flight), which then die in the old
 * generation. With V8's factor api-service's old space grew to 100–120 MB between full collections
 * of a 25–40 MB live set, most of its 185–220 MB resident set; at 30–60 % the service stays near
 * 150 MB, for no CPU that stands out of the run-to-run spread (`npm run bench -- api`: api-service
 * 0.29–0.32 CPU ms per item at 30–60 %, 0.24–0.35 with V8's own factor, alternated runs).
 *
 * `--heap-growing-percent` is one of the V8 flags read at every collection, so setting it at run
 * time takes effect (heap-growth.test.ts proves it in a child process); Node refuses it in
 * NODE_OPTIONS, which is why the service sets it itself.
 */
export function limitHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a whole percentage ≥ 0, got ${percent}`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
