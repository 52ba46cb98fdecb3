// `npm test`: find or start PostgreSQL and Redis, then every test file in parallel under jest.
// jest's globalSetup migrates a template database that each test file copies (libs/testing).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { findOrStartInfra } from './infra';

async function main(): Promise<void> {
  const infra = await findOrStartInfra();
  const jest = join(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
  const child = spawn(process.execPath, [jest, ...process.argv.slice(2)], {
    cwd: join(__dirname, '..'),
    stdio: 'inherit',
    env: { ...process.env, TEST_PG_URL: infra.pgServerUrl, REDIS_URL: infra.redisUrl, NX_DAEMON: 'false' },
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  await infra.stop();
  process.exit(code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
