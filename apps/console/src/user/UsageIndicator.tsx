import type { QuotaStatus } from '@qv/client';
import { limitText, num, time } from '../format';

type LimitName = keyof QuotaStatus['quotas'];

/** The five charged limits, in the words a user reads them. */
const LIMITS: Array<{ name: LimitName; label: string }> = [
  { name: 'enrichmentsPerDay', label: 'enrichments today' },
  { name: 'tokensPerDay', label: 'tokens today' },
  { name: 'tokensPerMonth', label: 'tokens this month' },
  { name: 'callsPerHour', label: 'calls this hour' },
  { name: 'concurrentJobs', label: 'jobs in flight' },
];

/** One meter per limit ("49/50 enrichments today"), coloured by the level GET /v1/quota gives it. */
export function UsageIndicator({ quota }: { quota?: QuotaStatus }) {
  if (!quota) return <section className="card usage">Loading usage…</section>;
  return (
    <section className="card usage" aria-label="Usage">
      <h2>
        Usage <span className="plan">plan {quota.plan}</span>
        <span className={`badge level-${quota.level}`} data-testid="usage-level">{quota.level}</span>
      </h2>
      <ul className="meters">
        {LIMITS.map(({ name, label }) => {
          const q = quota.quotas[name];
          const ratio = q.limit === null ? 0 : q.limit === 0 ? 1 : Math.min(1, q.used / q.limit);
          return (
            <li key={name} className={`meter level-${q.level}`} data-testid={`usage-${name}`} data-level={q.level}>
              <span className="meter-text">
                <strong>{num(q.used)}/{limitText(q.limit)}</strong> {label}
              </span>
              <progress max={1} value={ratio} aria-label={`${label}: ${q.level}`} />
              <span className="meter-level">{q.level}</span>
              {q.resetAt && q.used > 0 && <span className="meter-reset">frees {time(q.resetAt)}</span>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
