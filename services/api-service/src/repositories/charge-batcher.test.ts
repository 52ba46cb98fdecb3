import { AppError, type ChargeBatchResult, type ChargeRequest, type ChargeResponse } from '@qv/contracts';
import { UnreachableError } from '@qv/http';
import { ChargeBatcher } from './charge-batcher';

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
      return later((): ChargeBatchResult[] => {
        if (batchError) throw batchError;
        return rs.map((r) => (r.userId === 'refused' ? { status: 429, error: { code: 'DAILY_QUOTA_EXCEEDED', message: 'no', retryAfterSeconds: 60 } } : { charge: answer(r) }));
      });
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('ChargeBatcher', () => {
  it('sends a lone charge by the single route, and what arrives together as one batch', async () => {
    const qs = quotaService();
    const batcher = new ChargeBatcher(qs.sendBatch, qs.sendOne, { maxBatch: 64, maxInFlight: 4 });
    const lone = batcher.charge(request('a'));
    await turn();
    const together = ['b', 'c', 'd'].map((u) => batcher.charge(request(u)));
    await turn();
    expect(qs.sent).toEqual([{ kind: 'one', users: ['a'] }, { kind: 'batch', users: ['b', 'c', 'd'] }]);
    await qs.answerAll();
    expect((await lone).reservation.id).toBe('rsv_itm_a_0');
    expect((await Promise.all(together)).map((c) => c.reservation.id)).toEqual(['rsv_itm_b_0', 'rsv_itm_c_0', 'rsv_itm_d_0']);
  });

  it('never puts one user in two batches at once; what arrives for them meanwhile waits, then goes together', async () => {
    const qs = quotaService();
    const batcher = new ChargeBatcher(qs.sendBatch, qs.sendOne, { maxBatch: 64, maxInFlight: 4 });
    const charges = [batcher.charge(request('a', 1)), batcher.charge(request('a', 2)), batcher.charge(request('b', 1))];
    await turn();
    expect(qs.sent).toEqual([{ kind: 'batch', users: ['a', 'a', 'b'] }]);
    charges.push(batcher.charge(request('a', 3)), batcher.charge(request('a', 4)), batcher.charge(request('c', 1)));
    await turn();
    expect(qs.sent.slice(1)).toEqual([{ kind: 'one', users: ['c'] }]);
    await qs.answerAll();
    expect(qs.sent.slice(2)).toEqual([{ kind: 'batch', users: ['a', 'a'] }]);
    await qs.answerAll();
    expect((await Promise.all(charges)).map((c) => c.reservation.id)).toEqual(['rsv_itm_a_1', 'rsv_itm_a_2', 'rsv_itm_b_1', 'rsv_itm_a_3', 'rsv_itm_a_4', 'rsv_itm_c_1']);
  });

  it('holds at most maxInFlight on their way and maxBatch in one; the rest gather for the next', async () => {
    const qs = quotaService();
    const batcher = new ChargeBatcher(qs.sendBatch, qs.sendOne, { maxBatch: 3, maxInFlight: 2 });
    const charges = Array.from({ length: 10 }, (_, i) => batcher.charge(request(`u${i}`)));
    await turn();
    expect(qs.sent.map((s) => s.users.length)).toEqual([3, 3]);
    await qs.answerAll();
    expect(qs.sent.map((s) => s.users.length)).toEqual([3, 3, 3, 1]);
    await qs.answerAll();
    expect(await Promise.all(charges)).toHaveLength(10);
  });

  it('answers each charge its own refusal', async () => {
    const qs = quotaService();
    const batcher = new ChargeBatcher(qs.sendBatch, qs.sendOne, { maxBatch: 64, maxInFlight: 4 });
    const ok = batcher.charge(request('a'));
    const no = batcher.charge(request('refused')).catch((err: unknown) => err);
    await turn();
    await qs.answerAll();
    expect((await ok).reservation.id).toBe('rsv_itm_a_0');
    expect(await no).toMatchObject({ code: 'DAILY_QUOTA_EXCEEDED', retryAfterSeconds: 60 });
  });

  it('charges again one by one a batch quota-service refused as a whole; fails a batch it did not answer', async () => {
    const qs = quotaService();
    const batcher = new ChargeBatcher(qs.sendBatch, qs.sendOne, { maxBatch: 64, maxInFlight: 4 });
    qs.failBatchesWith(new AppError('SERVICE_UNAVAILABLE', 'statement failed'));
    const charges = [batcher.charge(request('a')), batcher.charge(request('b'))];
    await turn();
    await qs.answerAll();
    await qs.answerAll();
    expect(qs.sent).toEqual([{ kind: 'batch', users: ['a', 'b'] }, { kind: 'one', users: ['a'] }, { kind: 'one', users: ['b'] }]);
    expect(await Promise.all(charges)).toHaveLength(2);

    qs.failBatchesWith(new UnreachableError('quota-service', new Error('timeout')));
    const unanswered = [batcher.charge(request('c')), batcher.charge(request('d'))].map((c) => c.catch((err: unknown) => err));
    await turn();
    await qs.answerAll();
    for (const c of unanswered) expect(await c).toBeInstanceOf(UnreachableError);
    expect(qs.sent).toHaveLength(4);
  });
});
