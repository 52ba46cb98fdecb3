import type { SqlPort } from '@qv/db';
import { createHttpApp, directJsonRoutes, errorMiddleware, KeyedGate, notFoundHandler, type DirectJsonRoutes, type KeyedBatcherOptions, type KeyedGateOptions, type ReadinessCheck, type ServiceAuthenticator } from '@qv/http';
import { Counter, Histogram, type Registry } from '@qv/telemetry';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { chargeBatchRoute } from './routes/charge-batch.route';
import { chargeGroup, chargeRoute, quotaRoutes } from './routes/quota.routes';

export interface QuotaServiceDeps {
  /** node-postgres (a Pool): charges, releases and status are statements of prisma/functions. */
  db: SqlPort;
  logger: Logger;
  metrics: Registry;
  readiness: ReadinessCheck[];
  reservationTtlSeconds: number;
  /** Who is calling (service credentials, SECURITY.md); each route names who may (routes/quota.routes.ts). */
  serviceAuth: ServiceAuthenticator;
  /** Admission of one user's concurrent charges (see KeyedGate). */
  chargeAdmission?: KeyedGateOptions;
  /** Single charges that arrive together, decided as one statement (chargeGroup); absent, DEFAULT_CHARGE_BATCHING. */
  chargeBatching?: KeyedBatcherOptions;
  /** The clock of every charge; tests may pin it. */
  clock?: () => Date;
}

/**
 * Two charges of one user at a time: they serialise on that user's lock anyway, so a third would only
 * hold a pooled connection while it waits. A wait of 1 s stays under api-service's 2 s timeout, so a
 * burst is answered 429 by the user's own line rather than 503 by everyone's.
 */
export const DEFAULT_CHARGE_ADMISSION: KeyedGateOptions = { maxActive: 2, maxQueued: 64, maxWaitMs: 1000 };

/** As CHARGE_BATCH_MAX and CHARGE_BATCHES_IN_FLIGHT default. */
export const DEFAULT_CHARGE_BATCHING: KeyedBatcherOptions = { maxBatch: 64, maxInFlight: 4 };

/** A charge or a release reason is a few hundred bytes; a batch of 64 charges, each with the longest ids and key, under 64 KiB. */
const BODY_LIMIT = 64 * 1024;

export interface QuotaServiceApp {
  app: Express;
  /** The charge, served before Express: `listen(app, port, host, { before })`. */
  before: DirectJsonRoutes['before'];
}

/** The quota-service HTTP app. No I/O here: main.ts builds the dependencies. */
export function createApp(deps: QuotaServiceDeps): QuotaServiceApp {
  const app = createHttpApp({ service: 'quota-service', logger: deps.logger, metrics: deps.metrics, readiness: deps.readiness, bodyLimit: BODY_LIMIT, serviceAuth: deps.serviceAuth });
  const charges = new Counter({
    name: 'quota_charges_total',
    help: 'Charges by outcome (accepted, replayed, refused, error) and refusal code',
    labelNames: ['outcome', 'code'] as const,
    registers: [deps.metrics],
  });
  const chargeDuration = new Histogram({
    name: 'quota_charge_duration_seconds',
    help: 'Time to decide a charge, transaction included',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [deps.metrics],
  });
  const clock = deps.clock ?? (() => new Date());
  const routeDeps = {
    db: deps.db,
    logger: deps.logger,
    reservationTtlSeconds: deps.reservationTtlSeconds,
    clock,
    charges,
    chargeDuration,
    admission: new KeyedGate(deps.chargeAdmission ?? DEFAULT_CHARGE_ADMISSION),
    group: chargeGroup(deps.db, { clock, reservationTtlSeconds: deps.reservationTtlSeconds }, deps.chargeBatching ?? DEFAULT_CHARGE_BATCHING),
  };
  const direct = directJsonRoutes([chargeRoute(routeDeps), chargeBatchRoute(routeDeps)], { auth: deps.serviceAuth, logger: deps.logger, metrics: deps.metrics, bodyLimit: BODY_LIMIT });
  app.use(direct.router);
  app.use(quotaRoutes(routeDeps));
  app.use(notFoundHandler());
  app.use(errorMiddleware(deps.logger));
  return { app, before: direct.before };
}
