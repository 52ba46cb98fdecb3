import { readFileSync } from 'node:fs';
import { currentSection, generatedSection, README, REGENERATE } from './env-table/readme-section';

describe("README.md's configuration table", () => {
  it('is the one the services\' config schemas give', () => {
    const current = currentSection(readFileSync(README, 'utf8')).split('\n');
    const generated = generatedSection().split('\n');
    const line = generated.findIndex((row, i) => row !== current[i]);
    if (line >= 0 || current.length !== generated.length) {
      const at = line >= 0 ? line : Math.min(current.length, generated.length);
      throw new Error(`README.md's configuration table is not the schemas' (first difference at its line ${at + 1}):\n  README:  ${current[at] ?? '(none)'}\n  schemas: ${generated[at] ?? '(none)'}\nRegenerate it: ${REGENERATE}`);
    }
  });
});
