/*
 * The relay's re-drive runs every OUTBOX_RELAY_INTERVAL_MS on every api-service replica and walks
 * the items still in flight: what it reads must be those, not the years of finished items beside
 * them, whatever the statistics said when they were taken.
 */
import { createLogger } from '@qv/telemetry';
import { sqlPortOf, tableReads, useTestDatabase } from '@qv/testing';
import { OutboxPublisher } from './outbox.publisher';

const db = useTestDatabase();

async function items(prefix: string, status: string, count: number): Promise<void> {
  await db().query(
    `INSERT INTO items (id, user_id, content, tasks, status, created_at, updated_at)
     SELECT 'itm_' || $1 || lpad(g::text, 7, '0'), 'usr_' || (g % 500), 'content', ARRAY['summarize'], $2, now() - interval '1 day', now() - interval '1 day'
       FROM generate_series(1, $3::int) g`,
    [prefix, status, count],
  );
}

it.each([
  ['with statistics of a quiet moment', false],
  ['with statistics taken while most items were in flight', true],
])('a re-drive pass reads the items in flight, not the finished ones (%s)', async (_name, staleStatistics) => {
  await db().query('DELETE FROM items');
  await items('a', staleStatistics ? 'PENDING' : 'DONE', 100_000);
  await db().query('ANALYZE items');
  if (staleStatistics) {
    await db().query(`UPDATE items SET status = 'DONE'`);
    // What autovacuum does between its ANALYZEs: the dead versions cleaned, the statistics kept.
    await db().query('VACUUM items');
  }
  await items('b', 'ENRICHING', 5);

  const reads = await tableReads(db().query, 'items', () => {
    const publisher = new OutboxPublisher({ db: sqlPortOf(db().query), queues: {}, logger: createLogger('relay-reads', 'silent'), enqueueTimeoutMs: 1000 });
    return publisher.redriveOnce(2000);
  });
  expect(reads.result).toBe(0); // none of them was sent, so none can have been lost
  expect(reads.seqScans).toBe(0);
  expect(reads.entries).toBeLessThan(50);
});
