import { DEFAULT_TASKS, EnrichmentJob, newId, type ChargeResponse, type CreateItemBody, type Item, type QuotaStatus } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';
import { estimateTokensAsync } from '@qv/llm';
import { withSpan } from '@qv/telemetry';
import type { Logger } from 'pino';
import { presentItem } from '../domain/present-item';
import { storeItemWithOutbox, type ItemWriter } from '../repositories/items.repository';
import type { OutboxPublisher } from '../repositories/outbox.publisher';
import type { QuotaClient } from '../repositories/quota.client';
import type { Principal } from '../repositories/auth.repository';

export interface CreateItemDeps {
  db: SqlPort;
  /** Stores accepted items in batches when given; otherwise each goes through `db` alone. */
  itemWriter?: ItemWriter;
  quota: QuotaClient;
  outbox: OutboxPublisher;
  logger: Logger;
}

/**
 * Accepts an item in the order of DESIGN.md §5, so that nothing is charged without work and no
 * work runs uncharged: (1) charge under the pre-generated item id; (2) store the item and its
 * outbox row in one transaction; (3) enqueue and mark the row sent (or leave it to the relay),
 * begun before the answer and not waited for.
 * Every step is idempotent by the item id, so a resumed request (same Idempotency-Key after a
 * crash) passes `itemId` again and repeats nothing.
 */
export function createItem(deps: CreateItemDeps, principal: Principal, body: CreateItemBody, itemId = newId('itm')): Promise<{ item: Item; quota: QuotaStatus }> {
  return withSpan('Items.create', async () => {
    // A user refused a moment ago is refused again before the estimate's tokenizing (RefusalMemo).
    deps.quota.throwKeptRefusal(principal.userId);
    const tasks = [...new Set(body.tasks ?? DEFAULT_TASKS)];
    // In slices, the event loop free between them: a 100,000-character body holds up no other request.
    const estimatedTokens = await estimateTokensAsync({ content: body.content, title: body.title }, tasks);

    // A refusal is thrown on as the 429 it is; quota-service writes the one log line per breach.
    const charge = await deps.quota.chargeOwnKey({ v: 1, userId: principal.userId, itemId, idempotencyKey: `item:${itemId}`, estimatedTokens });

    const job: EnrichmentJob = { v: 1, itemId, userId: principal.userId, reservationId: charge.reservation.id, tasks, charged: true };
    const newItem = { id: itemId, userId: principal.userId, title: body.title ?? null, url: body.url ?? null, content: body.content, tasks };
    const { item, outbox: outboxRow } = await storeOrRelease(deps, charge, () =>
      deps.itemWriter ? deps.itemWriter.store(newItem, job) : storeItemWithOutbox(deps.db, newItem, job),
    );
    // A row just written carries the job built above; a resumed request's row is read back. The
    // answer does not wait for the enqueue: the committed row is what makes the item safe.
    if (outboxRow) deps.outbox.publishSoon(outboxRow, outboxRow.payload === job ? job : undefined);
    return { item: presentItem(item), quota: charge.status };
  });
}

/**
 * A failure after the charge gives the charge back in the same request, so a refused request never
 * holds a slot or tokens until the sweeper. Only a charge this request made: a replayed charge
 * belongs to an earlier copy of the request whose item may already be stored and queued.
 */
async function storeOrRelease<T>(deps: CreateItemDeps, charge: ChargeResponse, store: () => Promise<T>): Promise<T> {
  try {
    return await store();
  } catch (err) {
    if (!charge.replayed) {
      await deps.quota.release(charge.reservation.id, 'item could not be stored').catch((releaseErr: unknown) => {
        // The sweeper voids a reservation whose item was never stored: the slot comes back later.
        deps.logger.warn({ err: releaseErr, reservationId: charge.reservation.id }, 'release after a failed store failed');
      });
    }
    throw err;
  }
}
