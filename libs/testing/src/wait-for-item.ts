import type { Item, ItemResponse, ItemStatus } from '@qv/contracts';
import { http } from './http';

export interface WaitForItemOptions {
  /** The statuses that end the wait; DONE and FAILED, the ones an item stays in, by default. */
  until?: readonly ItemStatus[];
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `GET /v1/items/:id` as the item's owner until its status is one of `until`, and returns
 * the item. Past the deadline it fails with the last answer it saw (a status, or an error answer),
 * so a stuck item says where it stopped.
 */
export async function waitForItem(api: string, key: string, id: string, options: WaitForItemOptions = {}): Promise<Item> {
  const { until = ['DONE', 'FAILED'], timeoutMs = 30_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastSeen = 'no answer yet';
  for (;;) {
    try {
      const res = await http<ItemResponse>('GET', `${api}/v1/items/${id}`, { key });
      if (res.status === 200 && until.includes(res.body.item.status)) return res.body.item;
      lastSeen = res.status === 200 ? res.body.item.status : `${res.status} ${JSON.stringify(res.body)}`;
    } catch (err) {
      lastSeen = `no answer: ${(err as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`item ${id} not ${until.join(' or ')} within ${timeoutMs} ms; last seen: ${lastSeen}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
