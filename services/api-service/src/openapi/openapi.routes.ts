import { Router } from 'express';
import { renderDocsPage } from './docs-page';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi';

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document built from the zod contracts) and `GET /docs` (the
 * same document as a self-contained HTML page). Public: mount before the authentication middleware.
 * Both are built once, when the router is made.
 */
export function openApiRoutes(document: OpenApiDocument = buildOpenApiDocument()): Router {
  const router = Router();
  const json = JSON.stringify(document);
  const html = renderDocsPage(document);

  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(json);
  });
  router.get('/docs', (_req, res) => {
    // The page has no script and loads nothing: say so to the browser.
    res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    res.type('html').send(html);
  });
  return router;
}
