// `npx tsx scripts/env-table.ts`: rewrites README.md's configuration table from the services' config
// schemas (each variable's default, the services that read it, and its .describe()).
import { readFileSync, writeFileSync } from 'node:fs';
import { README, withGeneratedSection } from './env-table/readme-section';

writeFileSync(README, withGeneratedSection(readFileSync(README, 'utf8')));
console.log('README.md: configuration table regenerated');
