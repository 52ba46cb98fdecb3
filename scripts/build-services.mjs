#!/usr/bin/env node
// Compiles each service (services/<name>/src/main.ts) into one CommonJS file, dist/<name>/main.js
// (+ .map), so a service starts with `node --enable-source-maps dist/<name>/main.js` instead of
// transpiling its TypeScript through tsx at every start. infra/migrate.ts (the container's
// migrate-and-seed step) is compiled the same way into dist/migrate/main.js.
//
// esbuild bundles our own code (services, libs through the @qv/* paths of tsconfig.base.json, the
// Prisma client generated into libs/db/src/generated); node_modules stay external, required at run
// time as before.
//
// Each bundle that counts tokens (it can require gpt-tokenizer's o200k ranks) gets the o200k_base
// vocabulary file beside it, dist/<name>/o200k_base.vocab (libs/llm/src/vocabulary-file.ts): the
// tokenizer's arrays, read at start instead of requiring gpt-tokenizer's rank table (~45 MB
// resident). It is written by libs/llm's own code (bundled in memory and run here) from the ranks
// in node_modules, which are therefore an input of the build too.
//
// Cached: the build is skipped when every input of the last build (esbuild's metafile: the exact
// files bundled, so editing a test file does not count) still has the same size and mtime or, when
// those differ, the same content, and the build settings are the same. The outputs are written
// atomically (temp file + rename), so a service starting during a rebuild reads a whole file.
//
//   node scripts/build-services.mjs            build when stale
//   node scripts/build-services.mjs --force    build anyway
//   node scripts/build-services.mjs --check    exit 1 when stale, build nothing
//
// Other scripts: `import { buildServices } from './build-services.mjs'`.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-stamp.json');

/** The services: every services/<name>/src/main.ts. */
export function serviceNames() {
  return readdirSync(join(ROOT, 'services'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'services', d.name, 'src', 'main.ts')))
    .map((d) => d.name)
    .sort();
}

/** The vocabulary code (libs/llm) and file, as the build writes it beside a bundle that loads it. */
const VOCABULARY_SOURCE = 'libs/llm/src/bpe.ts';
const VOCABULARY_FILE = 'o200k_base.vocab';
const O200K_RANKS = 'gpt-tokenizer/cjs/bpeRanks/o200k_base';

/** Where a service's compiled entry lives. */
export const serviceEntry = (name) => join(DIST, name, 'main.js');

function entryPoints() {
  const entries = Object.fromEntries(serviceNames().map((name) => [`${name}/main`, join(ROOT, 'services', name, 'src', 'main.ts')]));
  entries['migrate/main'] = join(ROOT, 'infra', 'migrate.ts');
  // Required by every entry's banner (below) when tracing is configured.
  entries['telemetry/preload'] = join(ROOT, 'libs', 'telemetry', 'src', 'preload.ts');
  return entries;
}

/**
 * The external packages are side-effect free as far as the bundle is concerned: an import whose
 * bindings tree-shaking left unused is dropped instead of kept as a bare require(). A service then
 * loads only the packages it calls — the llm-simulator does not load the OpenAI and Anthropic SDKs
 * that other exports of @qv/llm use — which is most of its start-up time. (No file under services/
 * or libs/ imports a package for its side effects alone; one that did would need to be listed here.)
 */
const externalsWithoutSideEffects = {
  name: 'externals-without-side-effects',
  setup(build) {
    // Bare specifiers (packages, node: built-ins); `@qv/…` go through tsconfig paths and are bundled.
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      args.kind === 'entry-point' || args.path.startsWith('@qv/') ? undefined : { path: args.path, external: true, sideEffects: false });
  },
};

/**
 * How every bundle here is built: for Node 20 as CommonJS. Every bare import (express, pg,
 * @prisma/client/runtime/…) stays a require() of node_modules; @qv/* are resolved through tsconfig
 * paths first, so they are bundled.
 */
const NODE_BUNDLE = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  tsconfig: join(ROOT, 'tsconfig.base.json'),
};

function esbuildOptions() {
  return {
    ...NODE_BUNDLE,
    entryPoints: entryPoints(),
    outdir: DIST,
    plugins: [externalsWithoutSideEffects],
    // import() of a package (the Prisma client's query compiler and its wasm, loaded at the first
    // query) as require(): those files are CommonJS, and Node's import() of CommonJS first scans
    // the whole file for its exports (4.5 MB of base64 for the wasm) — ~0.1 s of every start.
    supported: { 'dynamic-import': false },
    sourcemap: true,
    // `node --enable-source-maps`: Node 20 reads the source map of every module that names one
    // as it loads it — most of node_modules ships them — which was a tenth of a service's start.
    // Only this bundle's own map (read as the bundle loads, before the banner runs) is needed for
    // the stack traces of our code, so maps are off while the bundle requires its packages and back
    // on (when they were on) once it has: our frames are mapped to the TypeScript, a package's
    // frames show its shipped JavaScript, as without the flag.
    // ("use strict" first: the banner precedes esbuild's own directive, which would no longer count.)
    //
    // Tracing: OpenTelemetry's instrumentations patch express, pg, ioredis and http as they are
    // required, and a bundle requires all its packages before any statement of main.ts runs (import
    // hoisting). So a service entry's first act, when an OTLP endpoint is configured, is to require
    // dist/telemetry/preload.js, which starts the SDK; untraced, not even that file is read.
    banner: {
      js: [
        '"use strict";',
        'var __qvSourceMaps = process.sourceMapsEnabled;',
        'if (__qvSourceMaps) process.setSourceMapsEnabled(false);',
        'if (require.main === module && (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) require("../telemetry/preload.js");',
      ].join('\n'),
    },
    footer: { js: 'if (__qvSourceMaps) process.setSourceMapsEnabled(true);' },
    logLevel: 'warning',
    metafile: true,
    write: false,
  };
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/**
 * What, besides the bundled inputs, decides the output: settings, this script, the esbuild version,
 * tsconfig paths. (The rank table the vocabulary files are made from is one of the inputs.)
 */
async function buildKey() {
  // Its package.json, not the module: importing esbuild costs more than the whole freshness check.
  const { version } = createRequire(import.meta.url)('esbuild/package.json');
  const options = { ...esbuildOptions(), absWorkingDir: undefined };
  return sha256(JSON.stringify({
    version,
    options,
    script: sha256(readFileSync(fileURLToPath(import.meta.url))),
    tsconfig: sha256(readFileSync(join(ROOT, 'tsconfig.base.json'))),
  }));
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeStamp(stamp) {
  const tmp = `${STAMP}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(stamp, null, 1));
  renameSync(tmp, STAMP);
}

/** Why the last build is out of date, or undefined when it is fresh. */
async function staleReason(stamp) {
  if (!stamp) return 'no previous build';
  if (stamp.key !== (await buildKey())) return 'build settings changed';
  const wanted = Object.keys(entryPoints()).map((e) => `${e}.js`);
  // Every output of the last build, the vocabulary files included, and every entry's bundle.
  const missing = [...wanted, ...stamp.outputs].find((o) => !stamp.outputs.includes(o) || !existsSync(join(DIST, o)));
  if (missing) return `dist/${missing} missing`;
  let touched = false;
  for (const [file, seen] of Object.entries(stamp.inputs)) {
    const abs = join(ROOT, file);
    if (!existsSync(abs)) return `${file} removed`;
    const st = statSync(abs);
    if (st.size === seen.size && st.mtimeMs === seen.mtimeMs) continue;
    if (st.size !== seen.size || sha256(readFileSync(abs)) !== seen.sha256) return `${file} changed`;
    seen.mtimeMs = st.mtimeMs; // same content, newer mtime (a checkout, a touch): not hashed again next time
    touched = true;
  }
  if (touched) writeStamp(stamp);
  return undefined;
}

/**
 * Writes dist/<name>/o200k_base.vocab beside each bundle that can require gpt-tokenizer's ranks
 * (libs/llm's `loadVocabulary` does when it finds no file), with the bytes libs/llm's
 * `o200kVocabularyFile()` makes of those ranks: that code is bundled in memory and run here, so the
 * file is exactly what the loader reads. Resolves to the files written (relative to dist/) and the
 * files that decided their content (relative to the root: that code and the rank table).
 */
async function writeVocabularyFiles(esbuild, metafile) {
  const dirs = Object.entries(metafile.outputs)
    .filter(([out, { imports }]) => out.endsWith('/main.js') && imports.some((i) => i.external && i.path === O200K_RANKS))
    .map(([out]) => dirname(relative(DIST, join(ROOT, out))));
  if (dirs.length === 0) return { outputs: [], inputs: [] };
  const source = join(ROOT, VOCABULARY_SOURCE);
  const generator = await esbuild.build({
    ...NODE_BUNDLE,
    entryPoints: [source],
    logLevel: 'warning',
    metafile: true,
    write: false,
  });
  const require = createRequire(source);
  const module = { exports: {} };
  new Function('exports', 'require', 'module', '__filename', '__dirname', generator.outputFiles[0].text)(module.exports, require, module, source, dirname(source));
  const bytes = module.exports.o200kVocabularyFile();
  const outputs = [];
  for (const dir of dirs) {
    const path = join(DIST, dir, VOCABULARY_FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    outputs.push(relative(DIST, path));
  }
  const ranks = relative(ROOT, require.resolve(O200K_RANKS));
  return { outputs, inputs: [...Object.keys(generator.metafile.inputs), ranks] };
}

/** True when dist/ holds a build of the current sources. */
export async function isBuildFresh() {
  return (await staleReason(readStamp())) === undefined;
}

/**
 * Builds dist/<service>/main.js for every service unless the last build is still fresh.
 * Resolves to { built, reason, ms }.
 */
export async function buildServices({ force = false, quiet = false } = {}) {
  // The web console api-service serves at /console/ (apps/console/build.mjs; cached the same way).
  const { buildConsole } = await import('../apps/console/build.mjs');
  await buildConsole({ force, quiet });
  const started = performance.now();
  const reason = force ? 'forced' : await staleReason(readStamp());
  if (!reason) return { built: false, reason: 'up to date', ms: performance.now() - started };
  const esbuild = await import('esbuild');
  const key = await buildKey();
  const result = await esbuild.build(esbuildOptions());
  mkdirSync(DIST, { recursive: true });
  const outputs = [];
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
    outputs.push(relative(DIST, file.path));
  }
  const vocabulary = await writeVocabularyFiles(esbuild, result.metafile);
  outputs.push(...vocabulary.outputs);
  const inputs = {};
  for (const file of new Set([...Object.keys(result.metafile.inputs), ...vocabulary.inputs])) {
    const abs = join(ROOT, file);
    const st = statSync(abs);
    inputs[file] = { size: st.size, mtimeMs: st.mtimeMs, sha256: sha256(readFileSync(abs)) };
  }
  writeStamp({ key, outputs, inputs });
  const ms = performance.now() - started;
  if (!quiet) console.log(`• services compiled into dist/ (${reason}; ${Object.keys(inputs).length} files, ${Math.round(ms)} ms)`);
  return { built: true, reason, ms };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  if (args.includes('--check')) {
    const reason = await staleReason(readStamp());
    console.log(reason ? `stale: ${reason}` : 'up to date');
    process.exit(reason ? 1 : 0);
  }
  try {
    const { built } = await buildServices({ force: args.includes('--force') });
    if (!built && !args.includes('--quiet')) console.log('• services in dist/ are up to date');
  } catch (err) {
    // esbuild has printed the errors already.
    if (!err?.errors) console.error(err);
    process.exit(1);
  }
}
