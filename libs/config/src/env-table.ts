import type { z } from 'zod';

/** One variable as the configuration table shows it. */
export interface EnvRow {
  name: string;
  /** Markdown: one value, or each service's where they differ. */
  defaults: string;
  /** The services whose schema has it, in the order given. */
  services: string[];
  meaning: string;
}

/**
 * The variables of every service's config schema, one row each: those more services read first,
 * then by the first service (in the order given) that reads them, then in its schema's order. The
 * meaning is the variable's
 * `.describe()`: a variable without one, or one described differently by two services, is an
 * error, since the same variable is the same knob everywhere.
 */
export function envRows(schemas: Record<string, z.ZodObject>): EnvRow[] {
  const order = Object.keys(schemas);
  const rows = new Map<string, { services: string[]; defaults: Map<string, string[]>; meaning: string; describedBy: string }>();
  for (const [service, schema] of Object.entries(schemas)) {
    for (const [name, field] of Object.entries(schema.shape) as [string, z.ZodType][]) {
      const meaning = field.description;
      if (!meaning) throw new Error(`${service}: ${name} has no .describe(): say what it means`);
      let row = rows.get(name);
      if (!row) rows.set(name, (row = { services: [], defaults: new Map(), meaning, describedBy: service }));
      if (row.meaning !== meaning) throw new Error(`${name} means one thing in ${row.describedBy} and another in ${service}: one variable, one knob, one description`);
      row.services.push(service);
      const shown = shownDefault(defaultOf(field));
      row.defaults.set(shown, [...(row.defaults.get(shown) ?? []), service]);
    }
  }
  return [...rows]
    .map(([name, row]) => ({
      name,
      defaults: row.defaults.size === 1 ? [...row.defaults.keys()][0]! : [...row.defaults].map(([value, services]) => `${value} ${services.join(', ')}`).join('; '),
      services: row.services,
      meaning: row.meaning,
    }))
    .sort((a, b) => b.services.length - a.services.length || order.indexOf(a.services[0]!) - order.indexOf(b.services[0]!));
}

/** The table's Markdown, header included; `all` and `all but X` stand for the services given. */
export function envTableMarkdown(rows: EnvRow[], allServices: readonly string[]): string {
  const usedBy = (services: string[]): string => {
    if (services.length === allServices.length) return 'all';
    const missing = allServices.filter((s) => !services.includes(s));
    return missing.length === 1 ? `all but ${missing[0]}` : services.join(', ');
  };
  const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
  return [
    '| variable | default | used by | meaning |',
    '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.name}\` | ${cell(r.defaults)} | ${cell(usedBy(r.services))} | ${cell(r.meaning)} |`),
  ].join('\n');
}

/** The raw default of a field (before any transform), or undefined when it has none. */
function defaultOf(field: z.ZodType): unknown {
  const def = field._zod.def as { type: string; defaultValue?: unknown; in?: z.ZodType; out?: z.ZodType };
  if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
  // z.preprocess(fn, schema) is a pipe from a transform: its default is the schema's.
  if (def.type === 'pipe') return def.in!._zod.def.type === 'transform' ? defaultOf(def.out!) : defaultOf(def.in!);
  return undefined;
}

function shownDefault(value: unknown): string {
  return value === undefined || value === '' ? 'unset' : `\`${String(value)}\``;
}
