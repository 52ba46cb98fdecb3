#!/usr/bin/env node
// Builds the web console (React + Vite) into dist/console/, which api-service serves at /console/.
// Cached like the services' bundles (scripts/build-services.mjs, which calls this): skipped when
// the hash of every input (the console's sources, @qv/client, the contracts its types come from,
// the versions of the build tools) is the one of the last build. A rebuild writes into a temporary
// folder renamed into place, so api-service never serves half a build. The build does not typecheck
// (Vite strips the types): e2e/console.e2e.test.ts runs `tsc -p apps/console`, so a type error fails
// that test, not every service's build.
//
//   node apps/console/build.mjs           build when stale
//   node apps/console/build.mjs --force   build anyway
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
export const CONSOLE_DIST = join(ROOT, 'dist', 'console');
const STAMP = '.build-stamp.json';

const INPUT_DIRS = [HERE, join(ROOT, 'libs', 'client', 'src'), join(ROOT, 'libs', 'contracts', 'src')];
const TOOLS = ['vite', '@vitejs/plugin-react', 'react', 'react-dom'];

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : files(path);
    return /\.test\.tsx?$/.test(d.name) ? [] : [path];
  });
}

/** One hash of everything that decides the output. */
function inputsHash() {
  const hash = createHash('sha256');
  for (const tool of TOOLS) hash.update(`${tool}@${JSON.parse(readFileSync(join(ROOT, 'node_modules', tool, 'package.json'), 'utf8')).version}\n`);
  for (const file of INPUT_DIRS.flatMap(files).sort()) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  hash.update(readFileSync(join(ROOT, 'tsconfig.base.json')));
  return hash.digest('hex');
}

function lastHash() {
  try {
    return JSON.parse(readFileSync(join(CONSOLE_DIST, STAMP), 'utf8')).hash;
  } catch {
    return undefined;
  }
}

/**
 * Puts the staged build at dist/console/ with two renames (the old build moved aside first), so the
 * folder is missing for an instant at most. Two builds racing (two test runs at once) both succeed:
 * the later one finds a folder in place and, when it holds a build of the same inputs, keeps it.
 */
function swapInto(staging, hash) {
  const aside = `${CONSOLE_DIST}.${process.pid}.old`;
  for (let attempt = 0; ; attempt++) {
    try {
      if (existsSync(CONSOLE_DIST)) renameSync(CONSOLE_DIST, aside);
      renameSync(staging, CONSOLE_DIST);
      break;
    } catch (err) {
      if (!['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(err.code) || attempt >= 3) throw err;
      if (lastHash() === hash) break; // another build of the same inputs got there first
    }
  }
  rmSync(aside, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
}

/** Builds dist/console/ unless it holds a build of the current inputs. Resolves to { built, ms }. */
export async function buildConsole({ force = false, quiet = false } = {}) {
  const started = performance.now();
  const hash = inputsHash();
  if (!force && hash === lastHash() && existsSync(join(CONSOLE_DIST, 'index.html'))) return { built: false, ms: performance.now() - started };

  const { build } = await import('vite');
  const staging = `${CONSOLE_DIST}.${process.pid}.tmp`;
  await build({ configFile: join(HERE, 'vite.config.mjs'), build: { outDir: staging, emptyOutDir: true } });
  writeFileSync(join(staging, STAMP), JSON.stringify({ hash }));
  swapInto(staging, hash);
  const ms = performance.now() - started;
  if (!quiet) console.log(`• console built into dist/console/ (${Math.round(ms)} ms)`);
  return { built: true, ms };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { built } = await buildConsole({ force: process.argv.includes('--force') });
    if (!built) console.log('• console in dist/console/ is up to date');
  } catch (err) {
    console.error(`✖ ${err.message}`);
    process.exit(1);
  }
}
