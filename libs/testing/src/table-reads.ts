import type { SqlPort } from '@qv/db/sql';

type Query = <R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;

export interface TableReads<T> {
  result: T;
  /** Index entries returned by the index scans of the table. */
  entries: number;
  /** Sequential scans of the table. */
  seqScans: number;
  /** Pages of the table read (from shared buffers or disk), by any kind of scan. */
  pages: number;
}

/**
 * `run` in a transaction of `query`'s connection, rolled back after, with what it read of `table`:
 * for tests that the work of a statement is the size of what it touches, not of the table. Plans
 * are the generic ones, as a long-lived connection ends up with after five executions.
 */
export async function tableReads<T>(query: Query, table: string, run: () => Promise<T>): Promise<TableReads<T>> {
  // The "current transaction" counters read this backend's stats not yet flushed, which since
  // PostgreSQL 15 may still hold the transactions of the last second: flush them first.
  await query('SELECT pg_stat_force_next_flush()');
  await query('BEGIN');
  try {
    await query(`SET LOCAL plan_cache_mode = force_generic_plan`);
    const result = await run();
    const [read] = await query<{ entries: string; seq_scans: string; pages: string }>(
      `SELECT (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0) FROM pg_index i WHERE i.indrelid = $1::regclass) AS entries,
              pg_stat_get_xact_numscans($1::regclass) AS seq_scans,
              pg_stat_get_xact_blocks_fetched($1::regclass) AS pages`,
      [table],
    );
    return { result, entries: Number(read.entries), seqScans: Number(read.seq_scans), pages: Number(read.pages) };
  } finally {
    await query('ROLLBACK');
  }
}

/** `query`'s connection as a SqlPort, so code under test runs inside `tableReads`'s transaction. */
export const sqlPortOf = (query: Query): SqlPort => ({ query: async <R,>(text: string, values?: unknown[]) => ({ rows: (await query(text, values)) as R[] }) });
