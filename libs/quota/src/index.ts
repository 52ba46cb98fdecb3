/**
 * The quota engine shared by quota-service and ledger-consumer (DESIGN.md §2–3): the rules are SQL
 * functions (prisma/functions); `domain/` words their answers, and the use cases take the SQL port
 * (libs/db SqlPort: a pg Pool, or a client in a transaction) and an explicit `now`.
 * See libs/quota/README.md for the rolling-hour algorithm and the locking argument.
 */
export * from './domain';
export { charge, chargeMany, toQuotaExceededError, type ChargeAccepted, type ChargeOptions, type ChargeRefused, type ChargeResult } from './use-cases/charge';
export { CHARGE_MANY_SQL, CHARGE_SQL, chargeParams, type ChargeCallArgs } from './repositories/charge.repository';
export { settle, release, type ReservationChange } from './use-cases/reservations';
export { quotaStatus } from './use-cases/status';
export { expireStale, voidOrphans, pruneCallSlotsBefore, startSweeper, type SweeperOptions } from './use-cases/sweeper';
