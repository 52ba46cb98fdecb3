import type { Pool, PoolClient } from 'pg';

/**
 * The one way the hot paths reach PostgreSQL: node-postgres, with parameterised text. A `Pool` runs
 * each statement in its own implicit transaction; a `PoolClient` (or `Client`) with BEGIN sent runs
 * it inside that transaction. The quota and ledger rules are functions in prisma/functions, so each
 * step is one statement. Prisma stays for the schema, the migrations and its generated row types;
 * no service loads its client.
 */
export interface SqlPort {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Runs `fn` in one transaction on a client of `pool`: committed if it resolves, rolled back if it throws. */
export async function inSqlTransaction<T>(pool: Pool, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
