#!/usr/bin/env node
// Entry of `npm start`, `npm test`, `npm run bench` and `npm run ops`: the set-up that must happen
// before any TypeScript can run (dependencies, Prisma client, the compiled services), then the
// TypeScript script itself.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireSetupLock } from './setup-lock.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [script, ...args] = process.argv.slice(2);

function run(cmd, cmdArgs, env = {}) {
  const result = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) {
    console.error(`\n✖ ${cmd} ${cmdArgs.join(' ')} failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

// Steps 1-3 write into the checkout: one process at a time (scripts/setup-lock.mjs).
const releaseSetupLock = acquireSetupLock(root);

// 1. Dependencies: install when missing or older than the lock file.
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(join(root, 'package-lock.json')) > mtime(installed)) {
  console.log('• installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 2. Prisma client: generated when missing or older than the schema. Prisma's CLI wants a native
// schema engine it cannot download here; `generate` does not use it, so any existing file will do
// (TOOLCHAIN.md).
const generated = join(root, 'libs', 'db', 'src', 'generated', 'client.ts');
if (mtime(join(root, 'prisma', 'schema.prisma')) > mtime(generated)) {
  console.log('• generating the Prisma client');
  run(join(root, 'node_modules', '.bin', 'prisma'), ['generate'], {
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  });
}

// 3. The services, compiled into dist/<name>/main.js, which is what start, test and bench run
// (scripts/build-services.mjs; a no-op when nothing changed since the last build).
// `npm run build` is this step alone (`npm run build -- --force` rebuilds even when fresh).
if (['start', 'test', 'bench', 'build'].includes(script)) {
  const { buildServices } = await import('./build-services.mjs');
  try {
    const { built } = await buildServices({ force: script === 'build' && args.includes('--force') });
    if (script === 'build') {
      if (!built) console.log('• services in dist/ are up to date');
      process.exit(0);
    }
  } catch (err) {
    if (!err?.errors) console.error(err); // esbuild has printed its own errors
    console.error('\n✖ compiling the services failed');
    process.exit(1);
  }
}

releaseSetupLock();

// 4. The console's browser tests drive Debian's Chromium (e2e/console.e2e.test.ts): installed here
// when missing, for a whole run or one that names the console. Where it cannot be, the reason is
// printed and that test fails with it (it never skips).
if (script === 'test' && (args.length === 0 || args.some((a) => /console/.test(a))) && !existsSync('/usr/bin/chromium')) {
  console.log('• installing Chromium for the console tests (apt-get install chromium)');
  const apt = (aptArgs) => spawnSync('apt-get', aptArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const ok = apt(['update']).status === 0 && apt(['install', '-y', 'chromium']).status === 0;
  if (!ok || !existsSync('/usr/bin/chromium')) console.error('✖ Chromium could not be installed (apt-get needs root and Debian\'s package lists); e2e/console.e2e.test.ts will fail until /usr/bin/chromium exists');
}

// 5. The script itself, under tsx; signals pass through so Ctrl-C stops everything it started.
const child = spawn(process.execPath, ["--import", "tsx", join(root, "scripts", script === "chaos" ? "chaos/main.ts" : `${script}.ts`), ...args], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
