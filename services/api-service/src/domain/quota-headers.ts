import type { QuotaStatus, QuotaUsage } from '@qv/contracts';

const UNLIMITED = '-1';

const limitOf = (q: QuotaUsage) => (q.limit === null ? UNLIMITED : String(q.limit));
const remainingOf = (q: QuotaUsage) => (q.remaining === null ? UNLIMITED : String(Math.max(0, q.remaining)));

/** The names of the headers `quotaHeaders` sets (CORS exposes them to pages). */
export const QUOTA_HEADER_NAMES = [
  'X-AI-Quota-Limit',
  'X-AI-Quota-Remaining',
  'X-AI-Quota-Reset',
  'X-AI-Quota-Tokens-Limit',
  'X-AI-Quota-Tokens-Remaining',
  'X-AI-Quota-Concurrency-Limit',
  'X-AI-Quota-Concurrency-Remaining',
] as const;

/** The X-AI-Quota-* headers of DESIGN.md §4, from a quota status. Unlimited is -1. */
export function quotaHeaders(status: QuotaStatus): Record<(typeof QUOTA_HEADER_NAMES)[number], string> {
  const { enrichmentsPerDay, tokensPerDay, concurrentJobs } = status.quotas;
  return {
    'X-AI-Quota-Limit': limitOf(enrichmentsPerDay),
    'X-AI-Quota-Remaining': remainingOf(enrichmentsPerDay),
    'X-AI-Quota-Reset': enrichmentsPerDay.resetAt ? String(Math.ceil(Date.parse(enrichmentsPerDay.resetAt) / 1000)) : '0',
    'X-AI-Quota-Tokens-Limit': limitOf(tokensPerDay),
    'X-AI-Quota-Tokens-Remaining': remainingOf(tokensPerDay),
    'X-AI-Quota-Concurrency-Limit': limitOf(concurrentJobs),
    'X-AI-Quota-Concurrency-Remaining': remainingOf(concurrentJobs),
  };
}
