import type { SqlPort } from '@qv/db/sql';

export interface CacheTtls {
  session: number | null;
  content: number | null;
}

const MEMO_MS = 10_000;

/**
 * The session and content TTLs of a user's plan after overrides (null: that tier is off for the
 * plan), read from `quota_user_limits` as the worker reads them, and kept briefly: a plan change
 * reaches the chat path's cache within MEMO_MS.
 */
export class CacheTtlsRepository {
  private readonly memo = new Map<string, { ttls: CacheTtls; until: number }>();

  constructor(private readonly db: SqlPort) {}

  async of(userId: string): Promise<CacheTtls> {
    const known = this.memo.get(userId);
    if (known && known.until > Date.now()) return known.ttls;
    // node-postgres answers bigint as a string.
    const { rows } = await this.db.query<{ session_ttl_seconds: string | null; content_ttl_seconds: string | null }>(
      `SELECT session_ttl_seconds, content_ttl_seconds FROM quota_user_limits($1)`,
      [userId],
    );
    const seconds = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
    const ttls = { session: seconds(rows[0]?.session_ttl_seconds), content: seconds(rows[0]?.content_ttl_seconds) };
    if (this.memo.size > 10_000) this.memo.clear();
    this.memo.set(userId, { ttls, until: Date.now() + MEMO_MS });
    return ttls;
  }
}
