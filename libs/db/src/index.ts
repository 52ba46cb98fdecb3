/** PostgreSQL through Prisma 7 (adapter-pg), the offline migration runner, seeds and key hashing. */
export * from './client';
export * from './migrate';
export * from './sql';
