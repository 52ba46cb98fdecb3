// The console's Vite build (apps/console/build.mjs runs it; `npx vite --config apps/console/vite.config.mjs`
// serves it for development against an api-service given by QV_API, e.g. http://127.0.0.1:3000).
import react from '@vitejs/plugin-react';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export default defineConfig({
  root: here,
  // Served by api-service at /console/ (services/api-service/src/routes/console.routes.ts).
  base: '/console/',
  plugins: [react()],
  resolve: { alias: { '@qv/client': join(root, 'libs', 'client', 'src', 'index.ts') } },
  build: { outDir: join(root, 'dist', 'console'), emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: process.env.QV_API ? { proxy: { '/v1': process.env.QV_API, '/admin': process.env.QV_API } } : undefined,
  logLevel: 'warn',
});
