import { AppError, newId } from '@qv/contracts';
import type { SqlPort } from '@qv/db/sql';

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
  db: SqlPort,
  options: IdempotencyOptions,
  run: (itemId: string) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const { userId, key } = options;
  const claim = await claimKey(db, options);
  if ('replay' in claim) return { ...claim.replay, replayed: true };

  let response: StoredResponse;
  try {
    response = await run(claim.itemId);
  } catch (err) {
    await freeClaim(db, userId, key);
    throw err;
  }
  if (response.status >= 400) {
    await freeClaim(db, userId, key);
  } else {
    const stored = await db.query(
      `UPDATE idempotency_keys SET state = 'done', response_status = $3, response_body = $4::jsonb WHERE user_id = $1 AND key = $2 RETURNING 1`,
      [userId, key, response.status, JSON.stringify({ body: response.body, headers: response.headers })],
    );
    if (stored.rows.length !== 1) throw new Error(`the Idempotency-Key claim of user ${userId} vanished before its response was stored`);
  }
  return { ...response, replayed: false };
}

type Claim = { itemId: string } | { replay: StoredResponse };

interface KeyRow {
  requestHash: string;
  state: string;
  responseStatus: number | null;
  responseBody: unknown;
  createdAt: Date;
  expiresAt: Date;
}

/** A refused or failed request does not use its key up. */
async function freeClaim(db: SqlPort, userId: string, key: string): Promise<void> {
  await db.query(`DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'in_progress'`, [userId, key]);
}

async function claimKey(db: SqlPort, options: IdempotencyOptions): Promise<Claim> {
  const { userId, key, requestHash } = options;
  for (let attempt = 0; attempt < 3; attempt++) {
    const itemId = newId('itm');
    const expiresAt = new Date(Date.now() + options.ttlHours * 3600_000);
    const inserted = await db.query(
      `INSERT INTO idempotency_keys (user_id, key, request_hash, state, response_body, created_at, expires_at)
       VALUES ($1, $2, $3, 'in_progress', $4::jsonb, now(), $5)
       ON CONFLICT (user_id, key) DO NOTHING RETURNING 1`,
      [userId, key, requestHash, JSON.stringify({ itemId }), expiresAt],
    );
    if (inserted.rows.length === 1) return { itemId };

    const [row] = (
      await db.query<KeyRow>(
        `SELECT request_hash AS "requestHash", state, response_status AS "responseStatus", response_body AS "responseBody", created_at AS "createdAt", expires_at AS "expiresAt"
           FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
        [userId, key],
      )
    ).rows;
    if (!row) continue; // deleted between our insert and read (a refusal freed it): claim again
    if (row.expiresAt.getTime() < Date.now()) {
      await db.query(`DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND expires_at = $3`, [userId, key, row.expiresAt]);
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
      const taken = await db.query(
        `UPDATE idempotency_keys SET created_at = now() WHERE user_id = $1 AND key = $2 AND state = 'in_progress' AND created_at = $3 RETURNING 1`,
        [userId, key, row.createdAt],
      );
      if (taken.rows.length === 1) return { itemId: (row.responseBody as { itemId: string }).itemId };
    }
    throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being processed; retry shortly', { retryAfterSeconds: 1 });
  }
  throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'This Idempotency-Key is contended; retry shortly', { retryAfterSeconds: 1 });
}
