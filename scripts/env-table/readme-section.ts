import { join } from 'node:path';
import { envRows, envTableMarkdown } from '@qv/config';
import { SERVICE_SCHEMAS } from './services';

export const README = join(__dirname, '..', '..', 'README.md');
export const REGENERATE = 'npx tsx scripts/env-table.ts';

const START = `<!-- env-table: generated from the services' config schemas by \`${REGENERATE}\`; edit the .describe() there -->`;
const END = '<!-- env-table: end -->';

/** The configuration table the schemas give, between its markers. */
export function generatedSection(): string {
  return `${START}\n${envTableMarkdown(envRows(SERVICE_SCHEMAS), Object.keys(SERVICE_SCHEMAS))}\n${END}`;
}

/** README.md's table as it stands, markers included. */
export function currentSection(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no configuration table between the markers "${START}" and "${END}"`);
  return readme.slice(start, end + END.length);
}

export function withGeneratedSection(readme: string): string {
  return readme.replace(currentSection(readme), generatedSection());
}
