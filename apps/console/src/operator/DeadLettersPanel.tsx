import type { DeadLetterFilter, DlqEntry, QuotaVaultClient } from '@qv/client';
import { useState } from 'react';
import { describeError } from '../api';
import { time } from '../format';
import { usePoll } from '../use-poll';

/** A datetime-local value (the operator's clock) as the ISO time the API takes. */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** GET /admin/dlq with its filters; per job its error history, replay (charged or not) and discard; replay-all by user. */
export function DeadLettersPanel({ client }: { client: QuotaVaultClient }) {
  const [userId, setUserId] = useState('');
  const [error, setError] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [chargeAll, setChargeAll] = useState(false);
  const [notice, setNotice] = useState<string>();
  const filter: DeadLetterFilter = {
    ...(userId.trim() ? { userId: userId.trim() } : {}),
    ...(error.trim() ? { error: error.trim() } : {}),
    ...(since ? { since: isoOf(since) } : {}),
    ...(until ? { until: isoOf(until) } : {}),
  };
  const jobs = usePoll(() => client.admin.listDeadLetters(filter), 2000, [JSON.stringify(filter)]);

  const act = async (what: () => Promise<string>) => {
    try {
      setNotice(await what());
    } catch (err) {
      setNotice(describeError(err));
    }
    await jobs.refresh();
  };

  return (
    <section className="card dlq" aria-label="Dead letters">
      <h2>Dead letters <span className="badge" data-testid="dlq-count">{jobs.data?.length ?? '…'}</span></h2>
      <div className="filters">
        <label>User id<input name="dlq-user" value={userId} onChange={(e) => setUserId(e.target.value)} /></label>
        <label>Error contains<input name="dlq-error" value={error} onChange={(e) => setError(e.target.value)} /></label>
        <label>Failed since<input type="datetime-local" name="dlq-since" value={since} onChange={(e) => setSince(e.target.value)} /></label>
        <label>until<input type="datetime-local" name="dlq-until" value={until} onChange={(e) => setUntil(e.target.value)} /></label>
      </div>
      <div className="actions">
        <label className="inline"><input type="checkbox" name="dlq-charge" checked={chargeAll} onChange={(e) => setChargeAll(e.target.checked)} /> charge the user</label>
        <button
          type="button"
          disabled={!filter.userId}
          title={filter.userId ? '' : 'Filter by a user first'}
          onClick={() =>
            act(async () => {
              const r = await client.admin.replayDeadLetters({ ...filter, chargeUser: chargeAll });
              return `Replayed ${r.replayed.length} job(s) of ${filter.userId}${r.failed.length ? `, ${r.failed.length} failed` : ''}${r.more ? '; more match: replay again' : ''}.`;
            })
          }
        >
          Replay all of this user
        </button>
      </div>
      {notice && <p className="notice" data-testid="dlq-notice">{notice}</p>}
      {jobs.error !== undefined && <p className="error">{describeError(jobs.error)}</p>}
      <table>
        <thead>
          <tr><th>Job</th><th>User</th><th>Failed</th><th>Attempts</th><th>Reason</th><th /></tr>
        </thead>
        <tbody>
          {(jobs.data ?? []).map((job) => (
            <DeadLetterRow key={job.jobId} job={job} client={client} act={act} />
          ))}
        </tbody>
      </table>
      {jobs.data?.length === 0 && <p className="hint">No dead letters match.</p>}
    </section>
  );
}

function DeadLetterRow({ job, client, act }: { job: DlqEntry; client: QuotaVaultClient; act: (what: () => Promise<string>) => Promise<void> }) {
  const [history, setHistory] = useState<string[]>();
  const showHistory = async () => {
    if (history) return setHistory(undefined);
    try {
      setHistory((await client.admin.getDeadLetter(job.jobId)).errors ?? [job.failedReason]);
    } catch (err) {
      setHistory([describeError(err)]);
    }
  };
  const replay = (chargeUser: boolean) =>
    act(async () => {
      const r = await client.admin.replayDeadLetter(job.jobId, { chargeUser });
      return `Replayed ${r.jobId} as ${r.newJobId} (${r.charged ? 'charged to the user' : 'not charged'}).`;
    });
  return (
    <>
      <tr data-testid="dlq-row" data-job-id={job.jobId}>
        <td>{job.jobId}</td>
        <td>{job.userId}</td>
        <td>{time(job.failedAt)}</td>
        <td>{job.attemptsMade}</td>
        <td className="reason">{job.failedReason}</td>
        <td className="row-actions">
          <button type="button" onClick={showHistory}>History</button>
          <button type="button" onClick={() => replay(false)}>Replay</button>
          <button type="button" onClick={() => replay(true)}>Replay &amp; charge</button>
          <button type="button" className="danger" onClick={() => act(async () => (await client.admin.discardDeadLetter(job.jobId), `Discarded ${job.jobId}.`))}>Discard</button>
        </td>
      </tr>
      {history && (
        <tr className="history">
          <td colSpan={6}>
            <ol data-testid="dlq-history">
              {history.map((line, i) => <li key={i}>{line}</li>)}
            </ol>
          </td>
        </tr>
      )}
    </>
  );
}
