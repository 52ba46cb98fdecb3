import { useTestDatabase } from '@qv/testing';
import type { Pool, PoolClient } from 'pg';
import { createPool, prepared, preparedName } from './prepared';

const db = useTestDatabase();

const MARKED = prepared('SELECT $1::int * 2 AS doubled, $2::text AS label');
const UNMARKED = 'SELECT $1::int * 3 AS tripled';

/** The prepared statements of the connection `client` is. */
async function preparedOn(client: PoolClient): Promise<Array<{ name: string; statement: string }>> {
  return (await client.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements ORDER BY name')).rows;
}

describe('prepared statements (createPool)', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = createPool({ connectionString: db().url, max: 3 });
  });
  afterAll(() => pool.end());

  it('runs a marked text as a named statement, prepared once per connection, and leaves every other text unnamed', async () => {
    const client = await pool.connect();
    try {
      for (let i = 0; i < 3; i++) expect((await client.query(MARKED, [i, `run ${i}`])).rows).toEqual([{ doubled: 2 * i, label: `run ${i}` }]);
      expect((await client.query(UNMARKED, [5])).rows).toEqual([{ tripled: 15 }]);
      const statements = await preparedOn(client);
      expect(statements).toEqual([{ name: preparedName(MARKED), statement: MARKED }]);
    } finally {
      client.release();
    }
  });

  it('answers each of many overlapping runs with its own values, through the pool as inside a transaction', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => pool.query(MARKED, [i, `n${i}`])));
    answers.forEach((answer, i) => expect(answer.rows).toEqual([{ doubled: 2 * i, label: `n${i}` }]));

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      expect((await client.query(MARKED, [21, 'in a transaction'])).rows).toEqual([{ doubled: 42, label: 'in a transaction' }]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('keeps node-postgres\'s callback form and its errors: a failed run leaves the connection and the statement usable', async () => {
    const viaCallback = await new Promise<unknown>((resolve, reject) => {
      void pool.connect().then((client) =>
        client.query(MARKED, [4, 'cb'], (err: Error | undefined, result: { rows: unknown[] }) => {
          client.release();
          if (err) reject(err);
          else resolve(result.rows);
        }),
      );
    });
    expect(viaCallback).toEqual([{ doubled: 8, label: 'cb' }]);
    await expect(pool.query(MARKED, ['not a number', 'x'])).rejects.toThrow(/invalid input syntax for type integer/);
    expect((await pool.query(MARKED, [7, 'after the error'])).rows).toEqual([{ doubled: 14, label: 'after the error' }]);
  });

  it('names a text by its content: the same text marked twice is one statement, another text another', () => {
    expect(prepared(MARKED)).toBe(MARKED);
    expect(preparedName(`SELECT $1::int * 2 AS doubled, $2::text AS label`)).toBe(preparedName(MARKED));
    expect(preparedName(prepared('SELECT 1 AS one'))).not.toBe(preparedName(MARKED));
    expect(preparedName(UNMARKED)).toBeUndefined();
  });
});
