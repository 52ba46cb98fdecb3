import { JOB_CATALOG, newId, type EnrichmentJob, type TaskName } from '@qv/contracts';
import type { ItemRow, OutboxRow, PrismaClient } from '@qv/db';
import type { Pool } from 'pg';

export interface NewItem {
  id: string;
  userId: string;
  title: string | null;
  url: string | null;
  content: string;
  tasks: TaskName[];
}

// The accept path's one write. Run straight on node-postgres when a pool is given: Prisma's client
// layer was a measurable share of api-service CPU under load (bench/api.bench.ts).
const STORE_SQL = `
  WITH i AS (
    INSERT INTO items (id, user_id, title, url, content, tasks, status, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6::text[], 'PENDING', $7, $7)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )
  INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload, created_at)
  SELECT $8, i.id, $9, 'enrich', i.id, $10::jsonb, $7 FROM i`;

/**
 * Stores an item and its outbox row atomically in ONE statement (a data-modifying CTE is one
 * transaction), so accepting an item costs one round trip instead of an interactive transaction's
 * five. If the item already exists (a resumed Idempotency-Key request) nothing is written and the
 * stored item is returned with its still-unsent outbox row, if any. `pool`, when given, runs the
 * statement (the same database as `prisma`).
 */
export async function storeItemWithOutbox(
  prisma: PrismaClient,
  item: NewItem,
  job: EnrichmentJob,
  pool?: Pick<Pool, 'query'>,
): Promise<{ item: ItemRow; outbox: OutboxRow | null }> {
  const now = new Date();
  const outboxId = newId('obx');
  const params = [item.id, item.userId, item.title, item.url, item.content, item.tasks, now, outboxId, JOB_CATALOG.enrich.queue, JSON.stringify(job)];
  const inserted = pool ? (await pool.query(STORE_SQL, params)).rowCount : await prisma.$executeRawUnsafe(STORE_SQL, ...params);
  if (inserted === 1) {
    return {
      item: { ...item, status: 'PENDING', enrichment: null, error: null, createdAt: now, updatedAt: now },
      outbox: { id: outboxId, itemId: item.id, queue: JOB_CATALOG.enrich.queue, jobName: 'enrich', jobId: item.id, payload: job, createdAt: now, sentAt: null },
    };
  }
  const existing = await prisma.item.findUniqueOrThrow({ where: { id: item.id } });
  return { item: existing, outbox: await prisma.outboxMessage.findFirst({ where: { itemId: item.id, sentAt: null } }) };
}
