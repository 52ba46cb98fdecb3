import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { renderDocsPage } from './docs-page';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi';
import { edge, json, on, type RouteDoc } from './route-doc';

const text = (description: string, mediaType: string): ResponseConfig => ({ description, content: { [mediaType]: { schema: { type: 'string' } } } });

/** The OpenAPI description of each route of this file (see openapi/route-doc.ts). */
export const openApiRouteDocs = {
  getOpenApiDocument: {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['operations'],
    summary: 'This document',
    security: [],
    responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } }, ...edge },
  },
  getDocsPage: {
    method: 'get',
    path: '/docs',
    operationId: 'getDocsPage',
    tags: ['operations'],
    summary: 'This document as a readable page',
    security: [],
    responses: { 200: text('HTML.', 'text/html'), ...edge },
  },
} satisfies Record<string, RouteDoc>;

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document built from the zod contracts) and `GET /docs` (the
 * same document as a self-contained HTML page). Public: mount before the authentication middleware.
 * Both are built once, when the router is made.
 */
export function openApiRoutes(document: OpenApiDocument = buildOpenApiDocument()): Router {
  const router = Router();
  const json = JSON.stringify(document);
  const html = renderDocsPage(document);

  on(router, openApiRouteDocs.getOpenApiDocument, (_req, res) => {
    res.type('application/json').send(json);
  });
  on(router, openApiRouteDocs.getDocsPage, (_req, res) => {
    // The page has no script and loads nothing: say so to the browser.
    res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    res.type('html').send(html);
  });
  return router;
}
