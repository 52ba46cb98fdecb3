import type { SqlPort } from '@qv/db';

/** One UTC day's settlements above their estimate. */
export interface EstimateOverrun {
  day: string;
  /** Reservations settled at more tokens than they were charged. */
  reservations: number;
  /** The tokens past those estimates: tokens no charge checked against a budget. */
  tokens: number;
  /** The users with the most such tokens that day (at most `TOP_USERS`), most first. */
  top: Array<{ userId: string; tokens: number }>;
}

const TOP_USERS = 10;

/**
 * Per UTC day from `since`: the reservations settled above their estimate. The charge checks a
 * budget against the estimate, so every limit holds only while the estimate bounds what the
 * provider bills; a settlement above it means it did not (a provider's tokenizer counting more
 * than ours, an image billed above CHAT_IMAGE_PART_TOKENS), and the user's budget may have been
 * passed by those tokens. One statement, on the index that holds only such reservations
 * (migration 20261208000000_settled_above_estimate).
 */
export async function estimateOverruns(db: SqlPort, since: string): Promise<EstimateOverrun[]> {
  const { rows } = await db.query<{ day: string; user_id: string; reservations: string; tokens: string }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, user_id, count(*)::text AS reservations, sum(actual_tokens - estimated_tokens)::text AS tokens
       FROM ai_usage_reservations
      WHERE day >= $1::date AND status = 'SETTLED' AND actual_tokens > estimated_tokens
      GROUP BY day, user_id
      ORDER BY day DESC, sum(actual_tokens - estimated_tokens) DESC, user_id`,
    [since],
  );
  const byDay = new Map<string, EstimateOverrun>();
  for (const row of rows) {
    let day = byDay.get(row.day);
    if (!day) byDay.set(row.day, (day = { day: row.day, reservations: 0, tokens: 0, top: [] }));
    day.reservations += Number(row.reservations);
    day.tokens += Number(row.tokens);
    if (day.top.length < TOP_USERS) day.top.push({ userId: row.user_id, tokens: Number(row.tokens) });
  }
  return [...byDay.values()];
}
