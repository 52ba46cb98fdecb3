import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * prisma/migrations, from a compiled bundle that includes this file (dist/<name>/main.js,
 * scripts/build-services.mjs: two levels below the root) or from this file itself (libs/db/src:
 * three). The bundle's guess first: from here it names libs/prisma/migrations, which never exists.
 */
export const MIGRATIONS_DIR = [join(__dirname, '../../prisma/migrations'), join(__dirname, '../../../prisma/migrations')].find((dir) => existsSync(dir)) ?? join(__dirname, '../../../prisma/migrations');

/** prisma/functions, found the same way. */
export const FUNCTIONS_DIR = join(MIGRATIONS_DIR, '../functions');

export interface MigrationResult {
  applied: string[];
  skipped: string[];
  /** Files of prisma/functions (re)applied because they are new or changed. */
  functions: string[];
}

/**
 * Applies prisma/migrations/<name>/migration.sql in order and records each in `_prisma_migrations`
 * exactly as Prisma does (same table, same checksum: SHA-256 of the file), so `prisma migrate
 * deploy` and `status` agree with it wherever Prisma's schema engine is available. Prisma's own
 * CLI cannot run offline here (TOOLCHAIN.md). An advisory lock makes concurrent runs safe.
 */
export async function runMigrations(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(72707369)');
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
    const done = await client.query<{ migration_name: string; checksum: string }>(
      `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const appliedChecksums = new Map(done.rows.map((r) => [r.migration_name, r.checksum]));
    const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    const result: MigrationResult = { applied: [], skipped: [], functions: [] };
    for (const name of names) {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = appliedChecksums.get(name);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`Migration ${name} was edited after it was applied (checksum differs)`);
        result.skipped.push(name);
        continue;
      }
      const id = randomUUID();
      await client.query('BEGIN');
      try {
        await client.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`, [id, checksum, name]);
        await client.query(sql);
        await client.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${name} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(name);
    }
    result.functions = await applyFunctions(client, join(dir, '../functions'));
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock(72707369)').catch(() => undefined);
    await client.end();
  }
}

/**
 * The quota and ledger rules live in prisma/functions, one file per function (`CREATE OR REPLACE`),
 * so that a rule change is a diff of one file instead of a new migration restating the function.
 * After the migrations, every file whose SHA-256 differs from the one recorded in `_qv_functions`
 * is run, in file-name order (a file may use the functions of the files before it), each in its
 * own transaction with its record. A file that changes a function's signature drops it first.
 */
async function applyFunctions(client: Client, dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  await client.query(`CREATE TABLE IF NOT EXISTS "_qv_functions" ("name" TEXT PRIMARY KEY, "checksum" VARCHAR(64) NOT NULL, "applied_at" TIMESTAMPTZ NOT NULL DEFAULT now())`);
  const recorded = new Map((await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM "_qv_functions"`)).rows.map((r) => [r.name, r.checksum]));
  const applied: string[] = [];
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()) {
    const sql = await readFile(join(dir, name), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    if (recorded.get(name) === checksum) continue;
    await client.query('BEGIN');
    try {
      await client.query(sql);
      await client.query(`INSERT INTO "_qv_functions" (name, checksum) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`, [name, checksum]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw new Error(`prisma/functions/${name} failed: ${(err as Error).message}`, { cause: err });
    }
    applied.push(name);
  }
  return applied;
}

/** Creates the database named in `databaseUrl` if it does not exist (connecting to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}
