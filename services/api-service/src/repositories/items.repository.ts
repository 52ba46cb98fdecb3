import { JOB_CATALOG, newId, type EnrichmentJob, type TaskName } from '@qv/contracts';
import { ITEM_COLUMNS, OUTBOX_COLUMNS, prepared, type ItemRow, type OutboxRow, type SqlPort } from '@qv/db/sql';

export interface NewItem {
  id: string;
  userId: string;
  title: string | null;
  url: string | null;
  content: string;
  tasks: TaskName[];
}

// The accept path's one write.
const STORE_SQL = `
  WITH i AS (
    INSERT INTO items (id, user_id, title, url, content, tasks, status, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6::text[], 'PENDING', $7, $7)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )
  INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload, created_at)
  SELECT $8, i.id, $9, 'enrich', i.id, $10::jsonb, $7 FROM i`;
const STORE_RETURNING_SQL = prepared(`${STORE_SQL} RETURNING 1`);

/**
 * Stores an item and its outbox row atomically in ONE statement (a data-modifying CTE is one
 * transaction), so accepting an item costs one round trip instead of an interactive transaction's
 * five. If the item already exists (a resumed Idempotency-Key request) nothing is written and the
 * stored item is returned with its still-unsent outbox row, if any.
 */
export async function storeItemWithOutbox(db: SqlPort, item: NewItem, job: EnrichmentJob): Promise<{ item: ItemRow; outbox: OutboxRow | null }> {
  const now = new Date();
  const outboxId = newId('obx');
  const params = [item.id, item.userId, item.title, item.url, item.content, item.tasks, now, outboxId, JOB_CATALOG.enrich.queue, JSON.stringify(job)];
  const { rows } = await db.query(STORE_RETURNING_SQL, params);
  if (rows.length === 1) {
    return {
      item: { ...item, status: 'PENDING', enrichment: null, error: null, createdAt: now, updatedAt: now },
      outbox: { id: outboxId, itemId: item.id, queue: JOB_CATALOG.enrich.queue, jobName: 'enrich', jobId: item.id, payload: job, createdAt: now, sentAt: null },
    };
  }
  const existing = await db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = $1`, [item.id]);
  if (!existing.rows[0]) throw new Error(`item ${item.id} was neither stored nor found`);
  const outbox = await db.query<OutboxRow>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE item_id = $1 AND sent_at IS NULL LIMIT 1`, [item.id]);
  return { item: existing.rows[0], outbox: outbox.rows[0] ?? null };
}

// Many items in one statement: the batch arrives as one JSON array (one parameter whatever its size).
const STORE_BATCH_SQL = prepared(`
  WITH x AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS x(id text, user_id text, title text, url text, content text, tasks text[], outbox_id text, payload jsonb)
  ), i AS (
    INSERT INTO items (id, user_id, title, url, content, tasks, status, created_at, updated_at)
    SELECT id, user_id, title, url, content, tasks, 'PENDING', $2, $2 FROM x
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  ), o AS (
    INSERT INTO outbox (id, item_id, queue, job_name, job_id, payload, created_at)
    SELECT x.outbox_id, i.id, $3, 'enrich', i.id, x.payload, $2 FROM i JOIN x USING (id)
    RETURNING item_id
  )
  SELECT item_id FROM o`);

type Stored = { item: ItemRow; outbox: OutboxRow | null };
interface PendingStore {
  item: NewItem;
  job: EnrichmentJob;
  resolve: (stored: Stored) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the accept path: the items accepted within one turn of the event loop are
 * stored by ONE statement (one round trip, one WAL flush) instead of one each. Each item keeps
 * its own guarantees: its item and outbox rows commit together, an id already stored is left as
 * it is and read back (as `storeItemWithOutbox` does). If the batch statement fails, every item
 * is retried on its own, so one bad row fails only its own request.
 */
export class ItemWriter {
  private pending: PendingStore[] = [];
  private readonly pendingIds = new Set<string>();
  private scheduled = false;

  constructor(
    private readonly db: SqlPort,
    private readonly maxBatch = 200,
  ) {}

  store(item: NewItem, job: EnrichmentJob): Promise<Stored> {
    // The same id twice in one statement would get two outbox rows; the second goes on its own.
    if (this.pendingIds.has(item.id)) return this.storeOne(item, job);
    return new Promise<Stored>((resolve, reject) => {
      this.pending.push({ item, job, resolve, reject });
      this.pendingIds.add(item.id);
      if (this.pending.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private storeOne(item: NewItem, job: EnrichmentJob): Promise<Stored> {
    return storeItemWithOutbox(this.db, item, job);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.pendingIds.clear();
    if (batch.length === 1) this.storeOne(batch[0].item, batch[0].job).then(batch[0].resolve, batch[0].reject);
    else if (batch.length > 1) void this.storeBatch(batch);
  }

  private async storeBatch(batch: PendingStore[]): Promise<void> {
    const now = new Date();
    const outboxIds = batch.map(() => newId('obx'));
    let inserted: Set<string>;
    try {
      const rows = batch.map(({ item, job }, n) => ({
        id: item.id,
        user_id: item.userId,
        title: item.title,
        url: item.url,
        content: item.content,
        tasks: item.tasks,
        outbox_id: outboxIds[n],
        payload: job,
      }));
      const result = await this.db.query<{ item_id: string }>(STORE_BATCH_SQL, [JSON.stringify(rows), now, JOB_CATALOG.enrich.queue]);
      inserted = new Set(result.rows.map((r) => r.item_id));
    } catch {
      for (const p of batch) this.storeOne(p.item, p.job).then(p.resolve, p.reject);
      return;
    }
    batch.forEach(({ item, job, resolve, reject }, n) => {
      if (!inserted.has(item.id)) return void this.storeOne(item, job).then(resolve, reject); // already stored: read back
      resolve({
        item: { ...item, status: 'PENDING', enrichment: null, error: null, createdAt: now, updatedAt: now },
        outbox: { id: outboxIds[n], itemId: item.id, queue: JOB_CATALOG.enrich.queue, jobName: 'enrich', jobId: item.id, payload: job, createdAt: now, sentAt: null },
      });
    });
  }
}
