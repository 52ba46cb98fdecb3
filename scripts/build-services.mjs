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

/** Where a service's compiled entry lives. */
export const serviceEntry = (name) => join(DIST, name, 'main.js');

function entryPoints() {
  const entries = Object.fromEntries(serviceNames().map((name) => [`${name}/main`, join(ROOT, 'services', name, 'src', 'main.ts')]));
  entries['migrate/main'] = join(ROOT, 'infra', 'migrate.ts');
  return entries;
}

function esbuildOptions() {
  return {
    absWorkingDir: ROOT,
    entryPoints: entryPoints(),
    outdir: DIST,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Every bare import (express, pg, @prisma/client/runtime/…) stays a require() of node_modules;
    // @qv/* are resolved through tsconfig paths first, so they are bundled.
    packages: 'external',
    tsconfig: join(ROOT, 'tsconfig.base.json'),
    sourcemap: true,
    logLevel: 'warning',
    metafile: true,
    write: false,
  };
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** What, besides the bundled inputs, decides the output: settings, this script, the esbuild version, tsconfig paths. */
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
  const missing = wanted.find((o) => !stamp.outputs.includes(o) || !existsSync(join(DIST, o)));
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

/** True when dist/ holds a build of the current sources. */
export async function isBuildFresh() {
  return (await staleReason(readStamp())) === undefined;
}

/**
 * Builds dist/<service>/main.js for every service unless the last build is still fresh.
 * Resolves to { built, reason, ms }.
 */
export async function buildServices({ force = false, quiet = false } = {}) {
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
  const inputs = {};
  for (const file of Object.keys(result.metafile.inputs)) {
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
