import { AppError } from '@qv/contracts';
import express, { Router } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The console's own scripts and styles only: no inline script or style, no other origin. The page
 * calls this same origin, so it needs no CORS.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the built console is (apps/console/build.mjs writes dist/console/): beside the bundle
 * (dist/api-service/main.js) when compiled, else under the working directory (the repository root).
 */
function defaultConsoleDir(): string {
  const candidates = [join(__dirname, '..', 'console'), join(process.cwd(), 'dist', 'console')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[candidates.length - 1];
}

/** The web console's built files at /console/, public: the page asks for an API key itself. */
export function consoleRoutes(options: { dir?: string } = {}): Router {
  const dir = options.dir ?? defaultConsoleDir();
  const router = Router();
  router.use('/console', (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!existsSync(join(dir, 'index.html'))) throw new AppError('SERVICE_UNAVAILABLE', 'The console is not built: run `npm run build`');
    next();
  });
  router.use(
    '/console',
    express.static(dir, {
      index: 'index.html',
      setHeaders: (res, path) => {
        // File names under assets/ carry their content hash; the page itself must be fetched anew.
        res.setHeader('Cache-Control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  return router;
}
