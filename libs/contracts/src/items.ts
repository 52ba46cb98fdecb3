import { z } from 'zod';
import { idString, safeString } from './bounds';
import { QuotaStatus } from './quota';
import { TaskName } from './tasks';

export const ItemStatus = z.enum(['PENDING', 'ENRICHING', 'DONE', 'FAILED']);
export type ItemStatus = z.infer<typeof ItemStatus>;

export const MAX_CONTENT_CHARS = 100_000;
/** Browsers and proxies stop at about 2,000 characters; a longer link is not a link. */
export const MAX_URL_CHARS = 2048;

/**
 * An http(s) link and nothing else: `javascript:`, `data:` or `file:` URLs would be stored and
 * handed back to every frontend that renders the item's link.
 */
export const HttpUrl = safeString()
  .max(MAX_URL_CHARS)
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }));

export const CreateItemBody = z
  .object({
    content: safeString().min(1).max(MAX_CONTENT_CHARS),
    title: safeString().max(200).optional(),
    url: HttpUrl.optional(),
    tasks: z.array(TaskName).min(1).max(3).optional(),
  })
  .strict();
export type CreateItemBody = z.infer<typeof CreateItemBody>;

export const IdempotencyKeyHeader = safeString().min(1).max(255);

export const Enrichment = z.object({
  summary: z.string().optional(),
  tags: z.array(z.string()).optional(),
  extract: z.record(z.string(), z.unknown()).optional(),
  model: z.string(),
  cached: z.boolean(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
});
export type Enrichment = z.infer<typeof Enrichment>;

export const Item = z.object({
  id: z.string(),
  title: z.string().nullable(),
  url: z.string().nullable(),
  content: z.string(),
  tasks: z.array(TaskName),
  status: ItemStatus,
  enrichment: Enrichment.nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Item = z.infer<typeof Item>;

export const ListItemsQuery = z.object({
  cursor: idString().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** What `POST /v1/items` answers (202): the item, and the caller's quota after its charge. */
export const CreateItemResponse = z.object({ item: Item, quota: QuotaStatus });
export type CreateItemResponse = z.infer<typeof CreateItemResponse>;

/** What `GET /v1/items/:id` answers. */
export const ItemResponse = z.object({ item: Item });
export type ItemResponse = z.infer<typeof ItemResponse>;

/** What `GET /v1/items` answers: one page, newest first; `nextCursor` is null on the last. */
export const ItemsPage = z.object({ items: z.array(Item), nextCursor: z.string().nullable() });
export type ItemsPage = z.infer<typeof ItemsPage>;
