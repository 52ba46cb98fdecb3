import { AppError, type ChargeRequest, type ChargeResponse } from '@qv/contracts';
import { UnreachableError } from './client';
import { KeyedBatcher, type BatchAnswer, type KeyedBatcherOptions } from './keyed-batcher';

const request = (userId: string, n = 0): ChargeRequest => ({ v: 1, userId, itemId: `itm_${userId}_${n}`, idempotencyKey: `item:${userId}:${n}`, estimatedTokens: 10 });
const answer = (r: ChargeRequest) => ({ reservation: { id: `rsv_${r.itemId}` }, replayed: false }) as unknown as ChargeResponse;

/** Records what was sent and answers when told to. */
function quotaService() {
  const sent: Array<{ kind: 'one' | 'batch'; users: string[] }> = [];
  const pending: Array<() => void> = [];
  let batchError: unknown;
  const later = <T>(value: () => T) => new Promise<T>((resolve, reject) => pending.push(() => { try { resolve(value()); } catch (err) { reject(err); } }));
  return {
    sent,
    failBatchesWith: (err: unknown) => (batchError = err),
    answerAll: async () => {
      while (pending.length) pending.shift()!();
      // The answers' continuations run, then the flush they schedule for the next turn.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    },
    sendOne: (r: ChargeRequest) => {
      sent.push({ kind: 'one', users: [r.userId] });
      return later(() => answer(r));
    },
    sendBatch: (rs: ChargeRequest[]) => {
      sent.push({ kind: 'batch', users: rs.map((r) => r.userId) });
      return later((): Array<BatchAnswer<ChargeResponse>> => {
        if (batchError) throw batchError;
        return rs.map((r) => (r.userId === 'refused' ? { error: new AppError('DAILY_QUOTA_EXCEEDED', 'no', { retryAfterSeconds: 60 }) } : { value: answer(r) }));
      });
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

/** Charges keyed by user, as api-service's QuotaClient and quota-service's charge route batch them. */
const batcherOf = (qs: ReturnType<typeof quotaService>, options: KeyedBatcherOptions) =>
  new KeyedBatcher<ChargeRequest, ChargeResponse>(
    { key: (r) => r.userId, sendBatch: qs.sendBatch, sendOne: qs.sendOne, retryAlone: (err) => err instanceof AppError && !(err instanceof UnreachableError) },
    options,
  );

describe('KeyedBatcher', () => {
  it('sends a lone charge by the single route, and what arrives together as one batch', async () => {
    const qs = quotaService();
    const batcher = batcherOf(qs, { maxBatch: 64, maxInFlight: 4 });
    const lone = batcher.run(request('a'));
    await turn();
    const together = ['b', 'c', 'd'].map((u) => batcher.run(request(u)));
    await turn();
    expect(qs.sent).toEqual([{ kind: 'one', users: ['a'] }, { kind: 'batch', users: ['b', 'c', 'd'] }]);
    await qs.answerAll();
    expect((await lone).reservation.id).toBe('rsv_itm_a_0');
    expect((await Promise.all(together)).map((c) => c.reservation.id)).toEqual(['rsv_itm_b_0', 'rsv_itm_c_0', 'rsv_itm_d_0']);
  });

  it('never puts one user in two batches at once; what arrives for them meanwhile waits, then goes together', async () => {
    const qs = quotaService();
    const batcher = batcherOf(qs, { maxBatch: 64, maxInFlight: 4 });
    const charges = [batcher.run(request('a', 1)), batcher.run(request('a', 2)), batcher.run(request('b', 1))];
    await turn();
    expect(qs.sent).toEqual([{ kind: 'batch', users: ['a', 'a', 'b'] }]);
    charges.push(batcher.run(request('a', 3)), batcher.run(request('a', 4)), batcher.run(request('c', 1)));
    await turn();
    expect(qs.sent.slice(1)).toEqual([{ kind: 'one', users: ['c'] }]);
    await qs.answerAll();
    expect(qs.sent.slice(2)).toEqual([{ kind: 'batch', users: ['a', 'a'] }]);
    await qs.answerAll();
    expect((await Promise.all(charges)).map((c) => c.reservation.id)).toEqual(['rsv_itm_a_1', 'rsv_itm_a_2', 'rsv_itm_b_1', 'rsv_itm_a_3', 'rsv_itm_a_4', 'rsv_itm_c_1']);
  });

  it('holds at most maxInFlight on their way and maxBatch in one; the rest gather for the next', async () => {
    const qs = quotaService();
    const batcher = batcherOf(qs, { maxBatch: 3, maxInFlight: 2 });
    const charges = Array.from({ length: 10 }, (_, i) => batcher.run(request(`u${i}`)));
    await turn();
    expect(qs.sent.map((s) => s.users.length)).toEqual([3, 3]);
    await qs.answerAll();
    expect(qs.sent.map((s) => s.users.length)).toEqual([3, 3, 3, 1]);
    await qs.answerAll();
    expect(await Promise.all(charges)).toHaveLength(10);
  });

  it('answers each charge its own refusal', async () => {
    const qs = quotaService();
    const batcher = batcherOf(qs, { maxBatch: 64, maxInFlight: 4 });
    const ok = batcher.run(request('a'));
    const no = batcher.run(request('refused')).catch((err: unknown) => err);
    await turn();
    await qs.answerAll();
    expect((await ok).reservation.id).toBe('rsv_itm_a_0');
    expect(await no).toMatchObject({ code: 'DAILY_QUOTA_EXCEEDED', retryAfterSeconds: 60 });
  });

  it('charges again one by one a batch quota-service refused as a whole; fails a batch it did not answer', async () => {
    const qs = quotaService();
    const batcher = batcherOf(qs, { maxBatch: 64, maxInFlight: 4 });
    qs.failBatchesWith(new AppError('SERVICE_UNAVAILABLE', 'statement failed'));
    const charges = [batcher.run(request('a')), batcher.run(request('b'))];
    await turn();
    await qs.answerAll();
    await qs.answerAll();
    expect(qs.sent).toEqual([{ kind: 'batch', users: ['a', 'b'] }, { kind: 'one', users: ['a'] }, { kind: 'one', users: ['b'] }]);
    expect(await Promise.all(charges)).toHaveLength(2);

    qs.failBatchesWith(new UnreachableError('quota-service', new Error('timeout')));
    const unanswered = [batcher.run(request('c')), batcher.run(request('d'))].map((c) => c.catch((err: unknown) => err));
    await turn();
    await qs.answerAll();
    for (const c of unanswered) expect(await c).toBeInstanceOf(UnreachableError);
    expect(qs.sent).toHaveLength(4);
  });
});
