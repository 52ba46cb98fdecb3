import { z } from 'zod';
import { bool, positiveInt } from './fields';
import { envRows, envTableMarkdown } from './env-table';

const shared = { SHARED: positiveInt(1).describe('one knob') };

describe('envRows', () => {
  it('one row per variable: its raw default (before any transform), the services reading it, its description', () => {
    const rows = envRows({
      a: z.object({
        ...shared,
        FLAG: bool(true).describe('a flag'),
        LIST: z.string().default('').transform((s) => s.split(',')).describe('a list'),
        KEY: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()).describe('a key'),
      }),
      b: z.object(shared),
    });
    expect(rows).toEqual([
      { name: 'SHARED', defaults: '`1`', services: ['a', 'b'], meaning: 'one knob' },
      { name: 'FLAG', defaults: '`true`', services: ['a'], meaning: 'a flag' },
      { name: 'LIST', defaults: 'unset', services: ['a'], meaning: 'a list' },
      { name: 'KEY', defaults: 'unset', services: ['a'], meaning: 'a key' },
    ]);
  });

  it("shows each service's default where they differ, and puts the variables more services read first", () => {
    const port = (n: number) => z.coerce.number().default(n).describe('the port');
    const rows = envRows({ a: z.object({ OWN: positiveInt(1).describe('own'), PORT: port(1) }), b: z.object({ PORT: port(2) }), c: z.object({ PORT: port(2) }) });
    expect(rows.map((r) => [r.name, r.defaults])).toEqual([
      ['PORT', '`1` a; `2` b, c'],
      ['OWN', '`1`'],
    ]);
  });

  it('refuses a variable without a description, or described differently by two services', () => {
    expect(() => envRows({ a: z.object({ BARE: positiveInt(1) }) })).toThrow('a: BARE has no .describe()');
    expect(() => envRows({ a: z.object({ X: positiveInt(1).describe('this') }), b: z.object({ X: positiveInt(1).describe('that') }) })).toThrow(/X means one thing in a and another in b/);
  });
});

describe('envTableMarkdown', () => {
  it('says all, all but one, or names the services; escapes pipes and joins lines', () => {
    const table = envTableMarkdown(
      [
        { name: 'A', defaults: '`1`', services: ['x', 'y', 'z'], meaning: 'a | b' },
        { name: 'B', defaults: 'unset', services: ['x', 'y'], meaning: 'two\n  lines' },
        { name: 'C', defaults: 'unset', services: ['z'], meaning: 'c' },
      ],
      ['x', 'y', 'z'],
    );
    expect(table.split('\n')).toEqual([
      '| variable | default | used by | meaning |',
      '|---|---|---|---|',
      '| `A` | `1` | all | a \\| b |',
      '| `B` | unset | all but z | two lines |',
      '| `C` | unset | z | c |',
    ]);
  });
});
