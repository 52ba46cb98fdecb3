import type { EnrichmentJob } from '@qv/contracts';
import { useTestDatabase } from '@qv/testing';
import { ItemWriter, type NewItem } from './items.repository';

const item = (id: string, content = `content of ${id}`): NewItem => ({ id, userId: 'usr_1', title: null, url: null, content, tasks: ['summarize', 'tag'] });
const job = (itemId: string): EnrichmentJob => ({ v: 1, itemId, userId: 'usr_1', reservationId: `rsv_${itemId}`, tasks: ['summarize', 'tag'], charged: true });

describe('ItemWriter', () => {
  const db = useTestDatabase();
  let writer: ItemWriter;
  beforeAll(async () => {
    writer = new ItemWriter(db().sql);
  });

  it('stores the items of one tick in one batch, each with its outbox row, and reads an existing id back', async () => {
    await writer.store(item('itm_old'), job('itm_old'));
    await db().query(`UPDATE outbox SET sent_at = now() WHERE item_id = 'itm_old'`);

    const stored = await Promise.all(['itm_a', 'itm_b', 'itm_old', 'itm_a'].map((id) => writer.store(item(id, `new ${id}`), job(id))));

    expect(stored.map((s) => [s.item.id, s.item.content, s.outbox?.itemId ?? null])).toEqual([
      ['itm_a', 'new itm_a', 'itm_a'],
      ['itm_b', 'new itm_b', 'itm_b'],
      ['itm_old', 'content of itm_old', null], // stored before, its row already sent: nothing new
      ['itm_a', 'new itm_a', 'itm_a'], // the same id twice in a tick: the second finds the first's unsent row
    ]);
    expect(stored[3].outbox!.id).toBe(stored[0].outbox!.id);
    const rows = await db().query<{ item_id: string; tasks: string[]; payload: EnrichmentJob; n: number }>(
      `SELECT o.item_id, i.tasks, o.payload, count(*) OVER (PARTITION BY o.item_id)::int AS n FROM outbox o JOIN items i ON i.id = o.item_id ORDER BY o.item_id`,
    );
    expect(rows).toEqual([
      { item_id: 'itm_a', tasks: ['summarize', 'tag'], payload: job('itm_a'), n: 1 },
      { item_id: 'itm_b', tasks: ['summarize', 'tag'], payload: job('itm_b'), n: 1 },
      { item_id: 'itm_old', tasks: ['summarize', 'tag'], payload: job('itm_old'), n: 1 },
    ]);
  });

  it('fails only the request whose row PostgreSQL refuses, not the rest of its batch', async () => {
    const results = await Promise.allSettled([writer.store(item('itm_c'), job('itm_c')), writer.store(item('itm_nul', 'a\u0000b'), job('itm_nul')), writer.store(item('itm_d'), job('itm_d'))]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await db().query<{ id: string }>(`SELECT id FROM items WHERE id IN ('itm_c', 'itm_nul', 'itm_d') ORDER BY id`)).map((r) => r.id)).toEqual(['itm_c', 'itm_d']);
    expect((await db().query<{ item_id: string }>(`SELECT item_id FROM outbox WHERE item_id IN ('itm_c', 'itm_nul', 'itm_d') ORDER BY item_id`)).map((r) => r.item_id)).toEqual(['itm_c', 'itm_d']);
  });
});
