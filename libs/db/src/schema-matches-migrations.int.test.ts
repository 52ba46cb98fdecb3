import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, databaseUrl, testPgUrl, useTestDatabase } from '@qv/testing';
import { Client } from 'pg';
import { Prisma } from './client';
import { FUNCTIONS_DIR, MIGRATIONS_DIR, runMigrations } from './migrate';

/** The migration runner's own bookkeeping, not part of the schema. */
const RUNNER_TABLES = ['_prisma_migrations', '_qv_functions'];

// Prisma's own `migrate` cannot run here (TOOLCHAIN.md), so prisma/migrations is written by hand
// and applied by our runner. This file proves the two cannot drift apart: the migrated database
// is compared with the full DMMF of prisma/schema.prisma, field by field, and the generated
// client is compared with that same DMMF (so a stale client fails here too).

const ROOT = join(__dirname, '../../..');

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  default?: { name: string; args: unknown[] } | unknown;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: Array<{ name: string }>;
}
interface Datamodel {
  models: DmmfModel[];
  indexes: DmmfIndex[];
}

/**
 * Prisma's full DMMF, as `prisma generate` hands it to every generator: a temporary copy of the
 * schema names a ten-line generator (Prisma's JSON-RPC over stdin/stderr) that writes it out.
 * `generate` runs offline once PRISMA_SCHEMA_ENGINE_BINARY names any existing file (TOOLCHAIN.md).
 */
async function loadDmmf(dir: string): Promise<Datamodel> {
  const out = join(dir, 'dmmf.json');
  const generator = join(dir, 'dump-dmmf.cjs');
  await writeFile(
    generator,
    `const fs = require('fs');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  const reply = (result) => process.stderr.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }) + '\\n');
  if (msg.method === 'getManifest') reply({ manifest: { prettyName: 'DMMF dump', defaultOutput: ${JSON.stringify(out)} } });
  if (msg.method === 'generate') { fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify(msg.params.dmmf.datamodel)); reply(null); }
});
`,
  );
  const schema = await readFile(join(ROOT, 'prisma/schema.prisma'), 'utf8');
  const generatorBlock = /generator\s+\w+\s*\{[^}]*\}/g;
  expect(schema.match(generatorBlock)).toHaveLength(1);
  const schemaPath = join(dir, 'schema.prisma');
  await writeFile(schemaPath, schema.replace(generatorBlock, `generator dmmf {\n  provider = ${JSON.stringify(`node ${generator}`)}\n}`));
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/prisma'), ['generate', '--schema', schemaPath], {
    cwd: ROOT,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1', CI: '1' },
    timeout: 60_000,
  });
  return JSON.parse(await readFile(out, 'utf8')) as Datamodel;
}

interface Column {
  table_name: string;
  column_name: string;
  is_nullable: 'YES' | 'NO';
  data_type: string;
  udt_name: string;
  datetime_precision: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
  column_default: string | null;
}

/** What a scalar of the schema must be in PostgreSQL: information_schema's data_type and details. */
function expectedColumnType(field: DmmfField): { data_type: string; udt_name: string; datetime_precision?: number; numeric_precision?: number; numeric_scale?: number } {
  const [native, args = []] = field.nativeType ?? [];
  const n = args.map(Number);
  let base: { data_type: string; udt_name: string; datetime_precision?: number; numeric_precision?: number; numeric_scale?: number };
  switch (native ?? field.type) {
    case 'String':
    case 'Text':
      base = { data_type: 'text', udt_name: 'text' };
      break;
    case 'VarChar':
      base = { data_type: 'character varying', udt_name: 'varchar' };
      break;
    case 'Uuid':
      base = { data_type: 'uuid', udt_name: 'uuid' };
      break;
    case 'Int':
    case 'Integer':
      base = { data_type: 'integer', udt_name: 'int4' };
      break;
    case 'BigInt':
      base = { data_type: 'bigint', udt_name: 'int8' };
      break;
    case 'Boolean':
      base = { data_type: 'boolean', udt_name: 'bool' };
      break;
    case 'Float':
    case 'DoublePrecision':
      base = { data_type: 'double precision', udt_name: 'float8' };
      break;
    case 'Json':
    case 'JsonB':
      base = { data_type: 'jsonb', udt_name: 'jsonb' };
      break;
    case 'Bytes':
      base = { data_type: 'bytea', udt_name: 'bytea' };
      break;
    // Prisma's DateTime without @db is timestamp(3); Decimal without @db is numeric(65,30).
    case 'DateTime':
    case 'Timestamp':
      base = { data_type: 'timestamp without time zone', udt_name: 'timestamp', datetime_precision: n[0] ?? 3 };
      break;
    case 'Timestamptz':
      base = { data_type: 'timestamp with time zone', udt_name: 'timestamptz', datetime_precision: n[0] ?? 3 };
      break;
    case 'Date':
      base = { data_type: 'date', udt_name: 'date' };
      break;
    case 'Decimal':
      base = { data_type: 'numeric', udt_name: 'numeric', numeric_precision: n[0] ?? 65, numeric_scale: n[1] ?? 30 };
      break;
    default:
      throw new Error(`No PostgreSQL mapping in this test for ${field.type} @db.${native}: add one`);
  }
  // Lists are PostgreSQL arrays; information_schema gives the element only through udt_name (_int4, …).
  return field.isList ? { data_type: 'ARRAY', udt_name: `_${base.udt_name}` } : base;
}

const columnName = (field: DmmfField) => field.dbName ?? field.name;
const tableName = (model: DmmfModel) => model.dbName ?? model.name;
/** Defaults Prisma fills in the client rather than the database. */
const CLIENT_SIDE_DEFAULTS = new Set(['cuid', 'uuid', 'nanoid', 'ulid']);

describe('the migrated database matches prisma/schema.prisma', () => {
  let tmp: string;
  let dmmf: Datamodel;
  const db = useTestDatabase();
  let columns: Column[];
  /** The schema's text, counted independently of the DMMF so no loop below can pass by checking nothing. */
  let schemaText: string;
  const occurrences = (pattern: RegExp) => schemaText.match(pattern)?.length ?? 0;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'qv-schema-'));
    [dmmf, schemaText] = await Promise.all([loadDmmf(tmp), readFile(join(ROOT, 'prisma/schema.prisma'), 'utf8')]);
    columns = await db().query<Column & Record<string, unknown>>(
      `SELECT table_name, column_name, is_nullable, data_type, udt_name, datetime_precision, numeric_precision, numeric_scale, column_default
         FROM information_schema.columns WHERE table_schema = 'public'`,
    );
  }, 90_000);

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const modelsByName = () => new Map(dmmf.models.map((m) => [m.name, m]));
  const column = (table: string, name: string) => columns.find((c) => c.table_name === table && c.column_name === name);

  it('the generated client has exactly the models and scalar fields of the schema', () => {
    expect(Object.values(Prisma.ModelName).sort()).toEqual(dmmf.models.map((m) => m.name).sort());
    expect(dmmf.models).toHaveLength(occurrences(/^model \w+ \{/gm));
    const enums = Prisma as unknown as Record<string, Record<string, string> | undefined>;
    for (const model of dmmf.models) {
      const clientFields = Object.keys(enums[`${model.name}ScalarFieldEnum`] ?? {}).sort();
      const schemaFields = model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum').map((f) => f.name).sort();
      expect({ model: model.name, fields: clientFields }).toEqual({ model: model.name, fields: schemaFields });
    }
  });

  it('has every table and column of the schema, with the same type, nullability and default', () => {
    let checked = 0;
    for (const model of dmmf.models) {
      for (const field of model.fields.filter((f) => f.kind === 'scalar')) {
        const table = tableName(model);
        const actual = column(table, columnName(field));
        const where = `${model.name}.${field.name} → ${table}.${columnName(field)}`;
        expect({ where, exists: actual !== undefined }).toEqual({ where, exists: true });
        const expected = expectedColumnType(field);
        expect({ where, ...pick(actual!, Object.keys(expected)) }).toEqual({ where, ...expected });
        // Prisma creates scalar lists without NOT NULL even when the field is required; every
        // other field's nullability must match exactly.
        if (!field.isList) expect({ where, nullable: actual!.is_nullable === 'YES' }).toEqual({ where, nullable: !field.isRequired });
        const dbDefault = field.hasDefaultValue && !(isFunctionDefault(field.default) && CLIENT_SIDE_DEFAULTS.has(field.default.name));
        expect({ where, hasDefault: actual!.column_default !== null }).toEqual({ where, hasDefault: dbDefault });
        checked++;
      }
    }
    expect(checked).toBe(columns.filter((c) => !RUNNER_TABLES.includes(c.table_name)).length);
  });

  it('has no table or column the schema lacks', () => {
    const tables = [...new Set(columns.map((c) => c.table_name))].filter((t) => !RUNNER_TABLES.includes(t)).sort();
    expect(tables).toEqual(dmmf.models.map(tableName).sort());
    for (const model of dmmf.models) {
      const schemaColumns = model.fields.filter((f) => f.kind === 'scalar').map(columnName).sort();
      const dbColumns = columns.filter((c) => c.table_name === tableName(model)).map((c) => c.column_name).sort();
      expect({ table: tableName(model), columns: dbColumns }).toEqual({ table: tableName(model), columns: schemaColumns });
    }
  });

  it('enforces every @id, @unique and @@unique with a primary key or a full unique index, and has every @@index', async () => {
    const indexes = await db().query<{ table: string; columns: string[]; primary: boolean; unique: boolean }>(
      `SELECT t.relname AS table, i.indisprimary AS primary, i.indisunique AS unique,
              array_agg(a.attname ORDER BY k.ord)::text[] AS columns
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE i.indpred IS NULL AND i.indexprs IS NULL
        GROUP BY t.relname, i.indexrelid, i.indisprimary, i.indisunique`,
    );
    const models = modelsByName();
    const counts = { id: 0, unique: 0, normal: 0 };
    for (const index of dmmf.indexes) {
      if (index.type === 'fulltext') continue;
      const model = models.get(index.model)!;
      const table = tableName(model);
      const cols = index.fields.map((f) => columnName(model.fields.find((mf) => mf.name === f.name)!));
      const found = indexes.some(
        (i) =>
          i.table === table &&
          sameColumns(i.columns, cols) &&
          (index.type === 'id' ? i.primary : index.type === 'unique' ? i.unique : true),
      );
      expect({ index: `${index.type} ${table}(${cols.join(', ')})`, found }).toEqual({ index: `${index.type} ${table}(${cols.join(', ')})`, found: true });
      counts[index.type]++;
    }
    expect(counts).toEqual({ id: dmmf.models.length, unique: occurrences(/@unique\b|@@unique\(/g), normal: occurrences(/@@index\(/g) });
    // The reverse for uniqueness: a unique index the schema does not declare would refuse rows the client thinks valid.
    const declared = dmmf.indexes.filter((i) => i.type !== 'normal').map((i) => {
      const model = models.get(i.model)!;
      return `${tableName(model)}(${i.fields.map((f) => columnName(model.fields.find((mf) => mf.name === f.name)!)).join(',')})`;
    });
    const actualUnique = indexes.filter((i) => i.unique && !RUNNER_TABLES.includes(i.table)).map((i) => `${i.table}(${i.columns.join(',')})`);
    expect(actualUnique.sort()).toEqual(declared.sort());
  });

  it('has every relation as a foreign key with the schema’s ON DELETE', async () => {
    const fks = await db().query<{ table: string; columns: string[]; ref_table: string; ref_columns: string[]; on_delete: string }>(
      `SELECT c.conrelid::regclass::text AS table, c.confrelid::regclass::text AS ref_table,
              (SELECT array_agg(a.attname ORDER BY k.ord)::text[] FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
              (SELECT array_agg(a.attname ORDER BY k.ord)::text[] FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS ref_columns,
              c.confdeltype AS on_delete
         FROM pg_constraint c WHERE c.contype = 'f'`,
    );
    const models = modelsByName();
    const ACTIONS: Record<string, string> = { Cascade: 'c', Restrict: 'r', NoAction: 'a', SetNull: 'n', SetDefault: 'd' };
    const expected = dmmf.models.flatMap((model) =>
      model.fields
        .filter((f) => f.kind === 'object' && f.relationFromFields?.length)
        .map((f) => {
          const target = models.get(f.type)!;
          const col = (m: DmmfModel, name: string) => columnName(m.fields.find((x) => x.name === name)!);
          // Prisma's default: Restrict for a required relation, SetNull for an optional one.
          const onDelete = f.relationOnDelete ?? (f.isRequired ? 'Restrict' : 'SetNull');
          return {
            table: tableName(model),
            columns: f.relationFromFields!.map((n) => col(model, n)),
            ref_table: tableName(target),
            ref_columns: f.relationToFields!.map((n) => col(target, n)),
            on_delete: ACTIONS[onDelete],
          };
        }),
    );
    const order = (rows: Array<{ table: string; columns: string[] }>) => [...rows].sort((a, b) => `${a.table}${a.columns}`.localeCompare(`${b.table}${b.columns}`));
    expect(expected).toHaveLength(occurrences(/@relation\([^)]*fields:/g));
    expect(order(fks)).toEqual(order(expected));
  });
});

describe('the migration runner', () => {
  const created: string[] = [];
  let tmp: string;

  /** An empty database of our own (named like the harness's, so a crashed run's leftovers are swept). */
  async function emptyDatabase(): Promise<string> {
    const name = `qv_t_${randomBytes(6).toString('hex')}`;
    const admin = new Client({ connectionString: testPgUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    created.push(name);
    return databaseUrl(name);
  }

  async function query<R>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as R[];
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'qv-migrations-'));
  });

  afterAll(async () => {
    const admin = new Client({ connectionString: testPgUrl() });
    await admin.connect();
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
    await rm(tmp, { recursive: true, force: true });
  });

  it('applies every migration once, records it as Prisma does, and applies nothing the second time', async () => {
    const url = await emptyDatabase();
    const folders = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(folders.length).toBeGreaterThanOrEqual(1);

    const functions = (await readdir(FUNCTIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    const first = await runMigrations(url);
    expect(first).toEqual({ applied: folders, skipped: [], functions });
    const second = await runMigrations(url);
    expect(second).toEqual({ applied: [], skipped: folders, functions: [] });

    const rows = await query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null; applied_steps_count: number }>(
      url,
      `SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const expected = await Promise.all(
      folders.map(async (name) => ({
        migration_name: name,
        checksum: createHash('sha256').update(await readFile(join(MIGRATIONS_DIR, name, 'migration.sql'))).digest('hex'),
        finished: true,
        rolled_back_at: null,
        applied_steps_count: 1,
      })),
    );
    expect(rows.map(({ finished_at, ...r }) => ({ ...r, finished: finished_at instanceof Date }))).toEqual(expected);
  });

  it('leaves a database migrated from scratch identical to the test template', async () => {
    const url = await emptyDatabase();
    await runMigrations(url);
    const template = await createTestDatabase();
    try {
      const shape = `SELECT table_name, column_name, is_nullable, data_type, udt_name, column_default
                       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`;
      const indexes = `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`;
      expect(await query(url, shape)).toEqual(await template.query(shape));
      expect(await query(url, indexes)).toEqual(await template.query(indexes));
    } finally {
      await template.drop();
    }
  });

  it('refuses a migration edited after it was applied, and changes nothing', async () => {
    const dir = join(tmp, 'edited');
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const url = await emptyDatabase();
    await runMigrations(url, dir);
    const [first] = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    await writeFile(join(dir, first, 'migration.sql'), `${await readFile(join(dir, first, 'migration.sql'), 'utf8')}\nCREATE TABLE "edited_later" (id int);\n`);

    await expect(runMigrations(url, dir)).rejects.toThrow(`Migration ${first} was edited after it was applied (checksum differs)`);
    const probe = await query<{ exists: boolean }>(url, `SELECT to_regclass('public.edited_later') IS NOT NULL AS exists`);
    expect(probe).toEqual([{ exists: false }]);
  });

  it('applies a new migration in order, and rolls a failing one back without recording it', async () => {
    const dir = join(tmp, 'extended');
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const url = await emptyDatabase();
    await runMigrations(url, dir);

    await mkdir(join(dir, '29991231000000_add_probe'));
    await writeFile(join(dir, '29991231000000_add_probe', 'migration.sql'), 'CREATE TABLE "probe" ("id" INTEGER NOT NULL);\n');
    expect((await runMigrations(url, dir)).applied).toEqual(['29991231000000_add_probe']);

    await mkdir(join(dir, '29991231000001_broken'));
    await writeFile(join(dir, '29991231000001_broken', 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT 1 / 0;\n');
    await expect(runMigrations(url, dir)).rejects.toThrow('Migration 29991231000001_broken failed: division by zero');
    const state = await query<{ half_done: boolean; recorded: number }>(
      url,
      `SELECT to_regclass('public.half_done') IS NOT NULL AS half_done,
              (SELECT count(*)::int FROM "_prisma_migrations" WHERE migration_name = '29991231000001_broken') AS recorded`,
    );
    expect(state).toEqual([{ half_done: false, recorded: 0 }]);
  });
});

function pick<T extends object>(value: T, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (value as Record<string, unknown>)[k]]));
}

function isFunctionDefault(value: unknown): value is { name: string; args: unknown[] } {
  return typeof value === 'object' && value !== null && 'name' in value && 'args' in value;
}

/** The same columns in the same order (the order of a composite key or index is part of what it serves). */
function sameColumns(actual: string[], expected: string[]): boolean {
  return actual.length === expected.length && actual.every((c, i) => c === expected[i]);
}
