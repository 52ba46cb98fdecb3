import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from './generated/client';

export { Prisma, PrismaClient };

/** Either the client or an open transaction, so repositories compose inside one transaction. */
export type Db = PrismaClient | Prisma.TransactionClient;

export interface DbOptions {
  /** Pool size per process. */
  poolSize?: number;
}

export function createPrisma(databaseUrl: string, options: DbOptions = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.poolSize ?? 10 });
  return new PrismaClient({ adapter });
}

/** Row types of the tables, named by role so they do not clash with the contracts' public shapes. */
export type {
  Plan as PlanRow,
  User as UserRow,
  Item as ItemRow,
  OutboxMessage as OutboxRow,
  AiUsageLedger as LedgerRow,
  AiUsageReservation as ReservationRow,
} from './generated/client';
