/**
 * libs/db without Prisma's client: node-postgres statements, the row column lists, key hashing and
 * the seeds. What a service imports from here never loads the Prisma runtime (~110 MB resident in
 * a process that queries through it); the row types are Prisma's generated ones, types only.
 */
export * from './sql-port';
export * from './prepared';
export * from './row-columns';
export * from './api-keys';
export * from './seed';
export type { PlanRow, UserRow, ItemRow, OutboxRow, LedgerRow, ReservationRow } from './client';
