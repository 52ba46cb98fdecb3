import { AppError, newId } from '@qv/contracts';
import { Prisma, type PrismaClient } from '@qv/db';

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface IdempotencyOptions {
  userId: string;
  key: string;
  requestHash: string;
  ttlHours: number;
  /** An in-progress key older than this is a crashed request's, and the next copy resumes it. */
  lockSeconds: number;
}

/**
 * Idempotency-Key as payment APIs do it (DESIGN.md §4):
 * - first use: the key is claimed (state in_progress) with a fresh item id, the request runs, and a
 *   success is stored; a refusal (4xx/5xx) deletes the claim, so a refused request does not use its key up;
 * - same key, same body, finished: the stored response, `replayed: true`, nothing charged;
 * - same key, other body: 422 IDEMPOTENCY_KEY_REUSED;
 * - same key while the first is in flight: 409 IDEMPOTENCY_KEY_IN_USE;
 * - same key after the first crashed mid-way (claim older than `lockSeconds`): resumed with the
 *   same item id, whose every step is idempotent.
 */
export async function runIdempotent(
  prisma: PrismaClient,
  options: IdempotencyOptions,
  run: (itemId: string) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const { userId, key } = options;
  const claim = await claimKey(prisma, options);
  if ('replay' in claim) return { ...claim.replay, replayed: true };

  let response: StoredResponse;
  try {
    response = await run(claim.itemId);
  } catch (err) {
    await prisma.idempotencyKey.deleteMany({ where: { userId, key, state: 'in_progress' } });
    throw err;
  }
  if (response.status >= 400) {
    await prisma.idempotencyKey.deleteMany({ where: { userId, key, state: 'in_progress' } });
  } else {
    await prisma.idempotencyKey.update({
      where: { userId_key: { userId, key } },
      data: { state: 'done', responseStatus: response.status, responseBody: { body: response.body, headers: response.headers } as Prisma.InputJsonValue },
    });
  }
  return { ...response, replayed: false };
}

type Claim = { itemId: string } | { replay: StoredResponse };

async function claimKey(prisma: PrismaClient, options: IdempotencyOptions): Promise<Claim> {
  const { userId, key, requestHash } = options;
  for (let attempt = 0; attempt < 3; attempt++) {
    const itemId = newId('itm');
    const expiresAt = new Date(Date.now() + options.ttlHours * 3600_000);
    const inserted = await prisma.$executeRaw`
      INSERT INTO idempotency_keys (user_id, key, request_hash, state, response_body, created_at, expires_at)
      VALUES (${userId}, ${key}, ${requestHash}, 'in_progress', ${JSON.stringify({ itemId })}::jsonb, now(), ${expiresAt})
      ON CONFLICT (user_id, key) DO NOTHING`;
    if (inserted === 1) return { itemId };

    const row = await prisma.idempotencyKey.findUnique({ where: { userId_key: { userId, key } } });
    if (!row) continue; // deleted between our insert and read (a refusal freed it): claim again
    if (row.expiresAt.getTime() < Date.now()) {
      await prisma.idempotencyKey.deleteMany({ where: { userId, key, expiresAt: row.expiresAt } });
      continue;
    }
    if (row.requestHash !== requestHash) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body');
    }
    if (row.state === 'done') {
      const stored = row.responseBody as { body: unknown; headers: Record<string, string> };
      return { replay: { status: row.responseStatus ?? 200, body: stored.body, headers: stored.headers } };
    }
    const stale = row.createdAt.getTime() < Date.now() - options.lockSeconds * 1000;
    if (stale) {
      // Take the claim over atomically: only one resumer wins the compare-and-set on created_at.
      const taken = await prisma.idempotencyKey.updateMany({
        where: { userId, key, state: 'in_progress', createdAt: row.createdAt },
        data: { createdAt: new Date() },
      });
      if (taken.count === 1) return { itemId: (row.responseBody as { itemId: string }).itemId };
    }
    throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being processed; retry shortly', { retryAfterSeconds: 1 });
  }
  throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'This Idempotency-Key is contended; retry shortly', { retryAfterSeconds: 1 });
}
