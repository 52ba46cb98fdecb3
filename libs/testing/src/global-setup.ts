import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
// jest loads globalSetup outside the test module registry (no moduleNameMapper): a relative import.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { FUNCTIONS_DIR, MIGRATIONS_DIR, runMigrations } from '../../db/src/migrate';
import { databaseUrl, testPgUrl } from './env';

/**
 * Migrates one template database per distinct set of migrations; each test file then copies it
 * (CREATE DATABASE … TEMPLATE), which takes milliseconds instead of a migration run per file.
 */
export default async function globalSetup(): Promise<void> {
  buildServices();
  pruneOldLogs(join(__dirname, '../../../.run/test-logs'));
  const template = templateName();
  process.env.QV_TEMPLATE_DB = template;
  const admin = new Client({ connectionString: testPgUrl() });
  await admin.connect();
  try {
    const stale = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'qv_t\\_%' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = pg_database.datname)`,
    );
    for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}"`);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (exists.rowCount === 0) {
      const building = `${template}_build_${process.pid}`;
      await admin.query(`CREATE DATABASE "${building}"`);
      await runMigrations(databaseUrl(building));
      await admin.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`).catch(async (err: { code?: string }) => {
        await admin.query(`DROP DATABASE IF EXISTS "${building}"`);
        if (err.code !== '42P04') throw err; // another run built it first
      });
    }
  } finally {
    await admin.end();
  }
}

/** Logs older than a day go, or service logs (libs/testing startService) would pile up without
 * bound; newer ones stay, since another run in the same checkout may still be writing them. */
function pruneOldLogs(dir: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const file = join(dir, name);
    if (statSync(file).mtimeMs < dayAgo) rmSync(file, { force: true });
  }
}

function templateName(): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(MIGRATIONS_DIR).sort()) {
    if (name.endsWith('.toml')) continue;
    hash.update(name).update(readFileSync(join(MIGRATIONS_DIR, name, 'migration.sql')));
  }
  for (const name of readdirSync(FUNCTIONS_DIR).sort()) hash.update(name).update(readFileSync(join(FUNCTIONS_DIR, name)));
  return `qv_tpl_${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Tests start services from their compiled dist/<name>/main.js (startService). scripts/test.ts has
 * compiled them already; jest run directly (`npx jest …`) may find dist/ stale, so this compiles
 * again when any source changed (a no-op otherwise). A child process: the script is ES module code
 * that jest's CommonJS globalSetup cannot load.
 */
function buildServices(): void {
  const script = join(__dirname, '../../../scripts/build-services.mjs');
  const result = spawnSync(process.execPath, [script, '--quiet'], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`compiling the services failed (${script} exited with ${result.status ?? result.signal})`);
}
