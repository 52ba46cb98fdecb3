// `npm test`: typecheck, lint (module boundaries), then every test file in parallel under jest, after
// compiling the services (scripts/build-services.mjs; skipped when dist/ is fresh) and finding or
// starting PostgreSQL and Redis. jest's globalSetup migrates a template database that each
// test file copies (libs/testing). Arguments go to jest (`npm test -- e2e/walking`) and skip the
// typecheck and lint, which are for the whole tree.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { findOrStartInfra } from './infra';

const ROOT = join(__dirname, '..');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

function run(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  console.log(`• ${label}`);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  const jestArgs = process.argv.slice(2);
  const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };
  if (jestArgs.length === 0) {
    if ((await run('typecheck (tsc --noEmit)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit'])) !== 0) process.exit(1);
    // eslint's module-boundary rule reads Nx's project graph; computing it first makes the rule run.
    if ((await run('project graph (nx)', bin('nx'), ['show', 'projects'], env)) !== 0) process.exit(1);
    if ((await run('lint (module boundaries)', bin('eslint'), ['.'], env)) !== 0) process.exit(1);
  }
  // Tests start services from their compiled dist/<name>/main.js (libs/testing startService).
  const { buildServices } = await import('./build-services.mjs');
  await buildServices();
  const infra = await findOrStartInfra();
  const code = await run('tests (jest)', process.execPath, [join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), ...jestArgs], {
    ...env,
    TEST_PG_URL: infra.pgServerUrl,
    REDIS_URL: infra.redisUrl,
  });
  await infra.stop();
  process.exit(code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
