import { AppError, type ChargeBatchResult, type ChargeRequest, type ChargeResponse } from '@qv/contracts';
import { UnreachableError } from '@qv/http';

export interface ChargeBatcherOptions {
  /** Most charges in one batch (QUOTA_CHARGE_BATCH_MAX); 1 sends every charge alone. */
  maxBatch: number;
  /** Batches (or lone charges) on their way to quota-service at once; the rest gather for the next one. */
  maxInFlight: number;
}

interface Waiting {
  request: ChargeRequest;
  resolve: (charge: ChargeResponse) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for charges: the charges that reach this replica while earlier ones are on their way
 * go to quota-service together, as one statement and one commit for all of them
 * (`POST /internal/charges/batch`), instead of a round trip and a commit each. Alone (a quiet
 * moment), a charge is sent at once by the single route. Exactness is quota-service's as ever: each
 * charge is decided by `quota_charge` as alone.
 *
 * A user is never in two batches at once: what arrives for them while one of their batches is on
 * its way waits for its answer, so a batch never waits on a lock this replica itself holds, and one
 * user's burst cannot make everyone else's batches queue behind their lock. Several charges of one
 * user may share a batch: they are decided one after the other inside its statement, each seeing
 * the ones before (a heavy user's charges then cost one round trip and one commit per batch, not
 * per charge; the accept path's per-user line, ACCEPT_ADMISSION_ACTIVE, bounds how many). A batch quota-service answered
 * with an error (its statement failed: nothing was charged) is charged again one by one; one it did
 * not answer fails as an unanswered charge does (the caller asks again under the same key).
 */
export class ChargeBatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private inFlight = 0;
  private readonly usersInFlight = new Set<string>();

  constructor(
    private readonly sendBatch: (charges: ChargeRequest[]) => Promise<ChargeBatchResult[]>,
    private readonly sendOne: (charge: ChargeRequest) => Promise<ChargeResponse>,
    private readonly options: ChargeBatcherOptions,
  ) {}

  charge(request: ChargeRequest): Promise<ChargeResponse> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /** At the end of this turn of the event loop: everything that arrived in it goes together. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch: Waiting[] = [];
      const users = new Set<string>();
      const later: Waiting[] = [];
      for (const w of this.waiting) {
        const { userId } = w.request;
        if (batch.length < this.options.maxBatch && !this.usersInFlight.has(userId)) {
          batch.push(w);
          users.add(userId);
        } else later.push(w);
      }
      this.waiting = later;
      if (batch.length === 0) return; // every waiting user has a charge on its way: their answers schedule the next flush
      void this.dispatch(batch, users);
    }
  }

  private async dispatch(batch: Waiting[], users: Set<string>): Promise<void> {
    this.inFlight++;
    for (const user of users) this.usersInFlight.add(user);
    try {
      if (batch.length === 1) await settle(batch[0], this.sendOne(batch[0].request));
      else await this.sendTogether(batch);
    } finally {
      this.inFlight--;
      for (const user of users) this.usersInFlight.delete(user);
      if (this.waiting.length > 0) this.schedule();
    }
  }

  private async sendTogether(batch: Waiting[]): Promise<void> {
    let results: ChargeBatchResult[];
    try {
      results = await this.sendBatch(batch.map((w) => w.request));
    } catch (err) {
      if (err instanceof UnreachableError || !(err instanceof AppError)) {
        for (const w of batch) w.reject(err);
        return;
      }
      await Promise.all(batch.map((w) => settle(w, this.sendOne(w.request))));
      return;
    }
    if (results.length !== batch.length) {
      const err = new AppError('INTERNAL', `quota-service answered ${results.length} results for ${batch.length} charges`);
      for (const w of batch) w.reject(err);
      return;
    }
    results.forEach((result, i) => {
      if ('charge' in result) batch[i].resolve(result.charge);
      else batch[i].reject(new AppError(result.error.code, result.error.message, { details: result.error.details, retryAfterSeconds: result.error.retryAfterSeconds }));
    });
  }
}

async function settle(w: Waiting, answer: Promise<ChargeResponse>): Promise<void> {
  try {
    w.resolve(await answer);
  } catch (err) {
    w.reject(err);
  }
}
