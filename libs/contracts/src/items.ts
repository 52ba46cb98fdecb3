import { z } from 'zod';
import { TaskName } from './tasks';

export const ItemStatus = z.enum(['PENDING', 'ENRICHING', 'DONE', 'FAILED']);
export type ItemStatus = z.infer<typeof ItemStatus>;

export const MAX_CONTENT_CHARS = 100_000;

export const CreateItemBody = z
  .object({
    content: z.string().min(1).max(MAX_CONTENT_CHARS),
    title: z.string().max(200).optional(),
    url: z.url().optional(),
    tasks: z.array(TaskName).min(1).max(3).optional(),
  })
  .strict();
export type CreateItemBody = z.infer<typeof CreateItemBody>;

export const IdempotencyKeyHeader = z.string().min(1).max(255);

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
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
