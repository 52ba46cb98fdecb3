// `node bench/support/cpu-profile-summary.mjs <file.cpuprofile>… [--top N] [--skip-s S]`: where a V8
// CPU profile's time went, past its first S seconds (the start-up) — self time by package
// (node_modules/<pkg>, our bundle, node internals, GC), the top functions by self time, and our
// bundle's functions by inclusive time, in % of the non-idle samples.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 15;
const skipAt = args.indexOf('--skip-s');
const skipUs = skipAt >= 0 ? Number(args[skipAt + 1]) * 1e6 : 0;
const optionValues = new Set([topAt, skipAt].filter((at) => at >= 0).map((at) => at + 1));
const files = args.filter((a, i) => !a.startsWith('--') && !optionValues.has(i));

const bucketOf = (frame) => {
  const url = frame.url ?? '';
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  if (url.includes('/dist/')) return 'our bundle';
  return url;
};

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  let at = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i];
    if (at >= skipUs) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  const buckets = new Map();
  const functions = new Map();
  let total = 0;
  for (const [id, count] of hits) {
    const frame = byId.get(id).callFrame;
    if (frame.functionName === '(idle)') continue;
    total += count;
    const bucket = bucketOf(frame);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
    const fn = `${frame.functionName || '(anonymous)'} ${bucket === 'our bundle' ? '' : bucket + ' '}${(frame.url ?? '').split('/').pop()}:${frame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + count);
    // Inclusive time of our own functions: each counted once per sample however deep it recurses.
    const seen = new Set();
    for (let node = id; node !== undefined; node = parent.get(node)) {
      const f = byId.get(node).callFrame;
      if (bucketOf(f) !== 'our bundle') continue;
      const name = `${f.functionName || '(anonymous)'} ${(f.url ?? '').split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + count);
    }
  }
  const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)} %`;
  console.log(`\n${file}: ${total} non-idle samples`);
  console.log('  by package (self):');
  for (const [b, n] of [...buckets].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(n)}  ${b}`);
  console.log('  top functions (self):');
  for (const [f, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(n)}  ${f}`);
  console.log('  our functions (inclusive):');
  for (const [f, n] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(n)}  ${f}`);
}
