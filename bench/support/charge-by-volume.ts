// One user's charge latency against how many calls that user made in the last hour (issue 13: a
// charge must not cost more as a user's volume grows). Beside each, the row-by-row count of the
// hour that quota_charge ran before the call slots, on the same rows, as the baseline.
import type { Pool } from 'pg';
import { newId } from '@qv/contracts';
import { CHARGE_SQL, chargeParams } from '@qv/quota';

const LIMITED = { concurrentJobs: 1_000_000_000, callsPerHour: 1_000_000_000, enrichmentsPerDay: 1_000_000_000, tokensPerDay: 1e15, tokensPerMonth: 1e15 };

export interface VolumeFigures {
  callsInHour: number;
  chargeP50: number;
  chargeP99: number;
  rowCountP50: number;
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function timed(n: number, one: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await one();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** A user whose last hour holds `calls` settled calls, spread evenly over it. */
async function userWithVolume(pool: Pool, calls: number): Promise<string> {
  const user = newId('usr');
  await pool.query(`INSERT INTO users (id, plan_id) VALUES ($1, 'pro_annual')`, [user]);
  // Limited, not null: the charge takes the exact path (slots + the edge slot's rows).
  await pool.query(`INSERT INTO user_quota_overrides (user_id, limits) VALUES ($1, $2::jsonb)`, [user, JSON.stringify(LIMITED)]);
  if (calls === 0) return user;
  const client = await pool.connect();
  try {
    // The fixture is written in bulk with the row trigger off for this session, then its call
    // slots from one GROUP BY: what the trigger would have written, a million times faster.
    await client.query('BEGIN');
    await client.query(`SET LOCAL session_replication_role = replica`);
    await client.query(
      `INSERT INTO ai_usage_reservations (id, user_id, item_id, idempotency_key, status, estimated_tokens, actual_tokens, day, month, created_at, expires_at)
       SELECT 'rsv_v' || $1 || g, $1, 'itm_v' || $1 || g, 'key_v' || $1 || g, 'SETTLED', 10, 10,
              (now() AT TIME ZONE 'UTC')::date, date_trunc('month', now() AT TIME ZONE 'UTC')::date,
              now() - (g * (3590.0 / $2)) * interval '1 second', now()
         FROM generate_series(1, $2::int) g`,
      [user, calls],
    );
    await client.query(
      `INSERT INTO ai_call_slots (user_id, slot_start, calls)
       SELECT user_id, quota_call_slot(created_at), count(*) FROM ai_usage_reservations WHERE user_id = $1 GROUP BY 1, 2`,
      [user],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  await pool.query('ANALYZE ai_usage_reservations');
  return user;
}

export async function chargeCostByVolume(pool: Pool, volumes: number[], samples: number): Promise<VolumeFigures[]> {
  const figures: VolumeFigures[] = [];
  for (const calls of volumes) {
    const user = await userWithVolume(pool, calls);
    const chargeOnce = async () => {
      const now = new Date();
      const args = { userId: user, itemId: newId('itm'), idempotencyKey: newId('key'), estimatedTokens: 10, reservationId: newId('rsv', now.getTime()), now, ttlSeconds: 900 };
      const { rows } = await pool.query<{ outcome: string }>(CHARGE_SQL, chargeParams(args));
      if (rows[0].outcome !== 'accepted') throw new Error(`volume ${calls}: charge ${rows[0].outcome}`);
    };
    const rowCount = () =>
      pool.query(`SELECT count(*) FROM ai_usage_reservations WHERE user_id = $1 AND created_at > now() - interval '1 hour' AND status <> 'RELEASED'`, [user]);
    await timed(20, chargeOnce); // plan caches of this connection set
    const charges = await timed(samples, chargeOnce);
    const counts = await timed(Math.max(5, Math.floor(samples / 10)), rowCount);
    figures.push({ callsInHour: calls, chargeP50: percentile(charges, 50), chargeP99: percentile(charges, 99), rowCountP50: percentile(counts, 50) });
  }
  return figures;
}

export function printVolumeTable(figures: VolumeFigures[]): void {
  console.log(`one user's charge against their calls in the last hour (sequential, raw quota_charge; beside it the row-by-row count of the hour it used to run):`);
  for (const f of figures) {
    console.log(`  ${String(f.callsInHour).padStart(9)} calls   charge p50 ${f.chargeP50.toFixed(2).padStart(7)} ms   p99 ${f.chargeP99.toFixed(2).padStart(7)} ms   row-by-row count p50 ${f.rowCountP50.toFixed(2).padStart(8)} ms`);
  }
  const p50s = figures.map((f) => f.chargeP50);
  console.log(`  largest p50 / smallest p50 = ${(Math.max(...p50s) / Math.min(...p50s)).toFixed(2)} (target ≤ 2: flat)`);
}
