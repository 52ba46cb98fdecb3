import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { createPrisma, seedPlans, type PrismaClient } from '@qv/db';
import { databaseUrl, testPgUrl } from './env';

export interface TestDatabase {
  name: string;
  url: string;
  prisma: PrismaClient;
  /** node-postgres on the test database: the SQL port the quota and ledger libraries run on. */
  sql: Pool;
  /** Runs raw SQL against the test database (for assertions the client does not express). */
  query: <R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;
  drop: () => Promise<void>;
}

/** A fresh, migrated, seeded database of its own for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.QV_TEMPLATE_DB;
  if (!template) throw new Error('QV_TEMPLATE_DB is unset: run tests through jest (its globalSetup migrates the template)');
  const name = `qv_t_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: testPgUrl() });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (err) {
        // "source database is being accessed by other users": another file is copying it right now.
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  const prisma = createPrisma(url, { poolSize: 5 });
  const sql = new Pool({ connectionString: url, max: 8 });
  await seedPlans(sql);
  const raw = new Client({ connectionString: url });
  await raw.connect();
  return {
    name,
    url,
    prisma,
    sql,
    query: async (sql, params) => (await raw.query(sql, params)).rows,
    drop: async () => {
      await prisma.$disconnect();
      await sql.end();
      await raw.end();
      const dropper = new Client({ connectionString: testPgUrl() });
      await dropper.connect();
      // A pool's end() resolves while its sockets may still be closing; forcing the drop at once
      // terminates them server-side, and a pool that is ending re-emits that as an 'error' no one
      // handles (seen under load as "terminating connection due to administrator command"). So
      // the plain drop first, for as long as the last connections take to go; force only then.
      for (let attempt = 0; ; attempt++) {
        const dropped = await dropper.query(`DROP DATABASE IF EXISTS "${name}"`).then(
          () => true,
          (err: { code?: string }) => (err.code === '55006' && attempt < 50 ? false : Promise.reject(err)),
        ).catch(() => null);
        if (dropped !== false) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
      await dropper.end();
    },
  };
}

/** A Redis key prefix of its own for one test file. */
export function testRedisPrefix(): string {
  return `qvt-${randomBytes(5).toString('hex')}`;
}
