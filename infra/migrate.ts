// One-shot set-up before the services start (docker-compose `migrate`): create the database if
// missing, apply prisma/migrations with the project's own runner, seed the five plans.
// Safe to run again and from several places at once: the runner takes an advisory lock, applied
// migrations are skipped, and the seed leaves existing plans (admin edits) alone.
import { Pool } from 'pg';
import { ensureDatabase, runMigrations, seedPlans } from '../libs/db/src';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/quota_vault';
  await ensureDatabase(url);
  const { applied, skipped } = await runMigrations(url);
  process.stdout.write(`migrations: ${applied.length} applied${applied.length ? ` (${applied.join(', ')})` : ''}, ${skipped.length} already applied\n`);
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    await seedPlans(pool);
    process.stdout.write('plans seeded\n');
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`migrate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
