import { JOB_CATALOG, newId, type EnrichmentJob, type TaskName } from '@qv/contracts';
import type { ItemRow, OutboxRow, PrismaClient } from '@qv/db';

export interface NewItem {
  id: string;
  userId: string;
  title: string | null;
  url: string | null;
  content: string;
  tasks: TaskName[];
}

/**
 * Stores an item and its outbox row atomically in ONE statement (a data-modifying CTE is one
 * transaction), so accepting an item costs one round trip instead of an interactive transaction's
 * five. If the item already exists (a resumed Idempotency-Key request) nothing is written and the
 * stored item is returned with its still-unsent outbox row, if any.
 */
export async function storeItemWithOutbox(prisma: PrismaClient, item: NewItem, job: EnrichmentJob): Promise<{ item: ItemRow; outbox: OutboxRow | null }> {
  const now = new Date();
  const outboxId = newId('obx');
  const inserted = await prisma.$executeRaw`
    WITH i AS (
      INSERT INTO items (id, user_id, title, url, content, tasks, status, created_at, updated_at)
      VALUES (${item.id}, ${item.userId}, ${item.title}, ${item.url}, ${item.content}, ${item.tasks}::text[], 'PENDING', ${now}, ${now})
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    )
    INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload, created_at)
    SELECT ${outboxId}, i.id, ${JOB_CATALOG.enrich.queue}, 'enrich', i.id, ${JSON.stringify(job)}::jsonb, ${now} FROM i`;
  if (inserted === 1) {
    return {
      item: { ...item, status: 'PENDING', enrichment: null, error: null, createdAt: now, updatedAt: now },
      outbox: { id: outboxId, itemId: item.id, queue: JOB_CATALOG.enrich.queue, jobName: 'enrich', jobId: item.id, payload: job, createdAt: now, sentAt: null },
    };
  }
  const existing = await prisma.item.findUniqueOrThrow({ where: { id: item.id } });
  return { item: existing, outbox: await prisma.outboxMessage.findFirst({ where: { itemId: item.id, sentAt: null } }) };
}
