/**
 * The quota engine shared by quota-service and ledger-consumer (DESIGN.md §2–3): the pure rules in
 * `domain/`, and use cases that take a `Db` (client or transaction) and an explicit `now`.
 * See libs/quota/README.md for the rolling-hour algorithm and the locking argument.
 */
export * from './domain';
export { charge, toQuotaExceededError, type ChargeAccepted, type ChargeOptions, type ChargeRefused, type ChargeResult } from './use-cases/charge';
export { CHARGE_SQL, chargeParams, type ChargeCallArgs, type ChargeDb, type PgQueryable } from './repositories/charge.repository';
export { settle, release, type ReservationChange } from './use-cases/reservations';
export { quotaStatus } from './use-cases/status';
export { expireStale, voidOrphans, pruneCallSlotsBefore, startSweeper, type SweeperOptions } from './use-cases/sweeper';
