import type { ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import { CacheStats, DlqEntry, ErrorBody, Item, Plan, QuotaStatus, ReconciliationRow, UsageEntry, User } from '@qv/contracts';
import type { RequestHandler, Router } from 'express';
import { z } from 'zod';

/**
 * One route's OpenAPI description, written beside its handler in the route's own file: `on()`
 * registers the handler at the description's method and path, and openapi.ts builds the document
 * from the same objects, so a route cannot exist undocumented nor a description without its route.
 */
export type RouteDoc = RouteConfig;

/** Mounts `handlers` on `router` at `doc`'s method and path (`{id}` in OpenAPI is `:id` in Express). */
export function on(router: Router, doc: RouteDoc, ...handlers: RequestHandler<Record<string, string>>[]): void {
  const method = doc.method as 'get' | 'post' | 'put' | 'patch' | 'delete';
  // Named parameters only (no wildcards), so every one is a string.
  router[method](doc.path.replace(/\{(\w+)\}/g, ':$1'), ...(handlers as RequestHandler[]));
}

/** The quota headers of DESIGN.md §4, on `POST /v1/items` (202 and 429) and `GET /v1/quota`. */
export const QUOTA_HEADERS: Record<string, string> = {
  'X-AI-Quota-Limit': 'Enrichments allowed today (UTC); -1 is unlimited.',
  'X-AI-Quota-Remaining': 'Enrichments left today; -1 is unlimited.',
  'X-AI-Quota-Reset': 'When the daily enrichment count resets, in epoch seconds.',
  'X-AI-Quota-Tokens-Limit': 'Tokens allowed today (UTC); -1 is unlimited.',
  'X-AI-Quota-Tokens-Remaining': 'Tokens left today; -1 is unlimited.',
  'X-AI-Quota-Concurrency-Limit': 'Enrichment jobs allowed in flight at once; -1 is unlimited.',
  'X-AI-Quota-Concurrency-Remaining': 'Further jobs that may start now; -1 is unlimited.',
};
export const RETRY_AFTER_DESCRIPTION = 'Seconds until the refused request may succeed (the limit that refused it frees).';

// Components that openapi.ts registers under these names; the routes refer to them.
export const headerRefs: Record<string, { $ref: string }> = Object.fromEntries(Object.keys(QUOTA_HEADERS).map((name) => [name, { $ref: `#/components/headers/${name}` }]));
export const retryAfter = { $ref: '#/components/headers/Retry-After' };
export const authed = [{ bearerAuth: [] }];

export const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

/**
 * A copy of `schema` that the generator emits once under components/schemas/<id> and references
 * by `$ref`. zod's own `.meta({ id })` rather than the library's `.openapi()`: zod 4 gives each
 * schema its methods when it is built, so `.openapi()` would exist only on schemas built after
 * `extendZodWithOpenApi`, which the contracts' are not. The contracts' schemas stay untouched.
 */
export const named = <T extends z.ZodType>(id: string, schema: T): T => schema.meta({ id }) as T;

export const ErrorSchema = named('ErrorBody', ErrorBody);
export const ItemSchema = named('Item', Item);
export const Quota = named('QuotaStatus', QuotaStatus);
export const UserSchema = named('User', User);
export const PlanSchema = named('Plan', Plan);
export const Dlq = named('DlqEntry', DlqEntry);
export const Reconciliation = named('ReconciliationRow', ReconciliationRow);
export const Stats = named('CacheStats', CacheStats);
export const Usage = named('UsageEntry', UsageEntry);

/** The named copy of each contracts schema above, by the schema it copies. */
const NAMED = new Map<z.ZodType, z.ZodType>([
  [ErrorBody, ErrorSchema],
  [Item, ItemSchema],
  [QuotaStatus, Quota],
  [User, UserSchema],
  [Plan, PlanSchema],
  [DlqEntry, Dlq],
  [ReconciliationRow, Reconciliation],
  [CacheStats, Stats],
  [UsageEntry, Usage],
]);

/**
 * A contracts answer (`{ item: Item, quota: QuotaStatus }`, …) as the document shows it: each field
 * holding a named schema, or an array of one, holds its named copy instead, so the document
 * refers to the component rather than repeating it. The answer's shape stays the contracts' own.
 */
export function documented(answer: z.ZodObject): z.ZodObject {
  const field = (schema: z.ZodType): z.ZodType => {
    const copy = NAMED.get(schema);
    if (copy) return copy;
    if (schema instanceof z.ZodArray) {
      const element = field(schema.element as z.ZodType);
      return element === schema.element ? schema : z.array(element);
    }
    return schema;
  };
  return z.object(Object.fromEntries(Object.entries(answer.shape).map(([name, schema]) => [name, field(schema as z.ZodType)])));
}
export const userId = z.object({ id: z.string() });

export const error = (description: string, extra: Partial<ResponseConfig> = {}): ResponseConfig => ({ description, content: json(ErrorSchema), ...extra });
export const common = {
  401: error('UNAUTHENTICATED: no API key, or an unknown or revoked one.'),
  429: error('AUTH_RATE_LIMITED: too many failed authentications from this client; wait Retry-After seconds.', { headers: { 'Retry-After': retryAfter } }),
  500: error('INTERNAL: an unexpected fault; the message never carries internals.'),
};
export const validation = { 400: error('VALIDATION_FAILED: the body, query or path did not parse; `details` holds the zod issues.') };
// Routes without a schema of their own: the edge guard (libs/http) still refuses, before the route
// runs, a path or query with NUL, a lone surrogate or invalid percent-encoding.
export const edge = { 400: error('VALIDATION_FAILED: the path or query holds NUL, a lone surrogate or invalid percent-encoding (refused before the route runs).') };
export const admin = { ...common, 403: error('FORBIDDEN: the key is not an admin key.') };
export const notFound = (what: string) => ({ 404: error(`NOT_FOUND: no such ${what}.`) });
