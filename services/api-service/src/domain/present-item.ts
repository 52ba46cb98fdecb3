import { Enrichment, type Item, type TaskName } from '@qv/contracts';
import type { ItemRow } from '@qv/db';

/** The public shape of an item row. */
export function presentItem(row: ItemRow): Item {
  const enrichment = row.enrichment === null ? null : Enrichment.parse(row.enrichment);
  return {
    id: row.id,
    title: row.title,
    url: row.url,
    content: row.content,
    tasks: row.tasks as TaskName[],
    status: row.status as Item['status'],
    enrichment,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
