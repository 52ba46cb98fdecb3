import type { Db, PrismaClient } from '@qv/db';

/** Runs `fn` in a transaction: a new one on a client, the caller's own when `db` already is one. */
export async function inTransaction<T>(db: Db, timeoutMs: number, fn: (tx: Db) => Promise<T>): Promise<T> {
  if (isClient(db)) return db.$transaction((tx) => fn(tx), { maxWait: timeoutMs, timeout: timeoutMs });
  return fn(db);
}

function isClient(db: Db): db is PrismaClient {
  return typeof (db as Partial<PrismaClient>).$transaction === 'function';
}
