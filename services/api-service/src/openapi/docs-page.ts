import type { OpenApiDocument } from './openapi';

// The page is rendered on the server from the document alone: no script, no CDN (none is
// reachable where this runs), so it works offline and under a strict Content-Security-Policy.

type Json = Record<string, unknown>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const escapeHtml = (value: unknown): string =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `code` spans for backticks in descriptions; everything else escaped. */
const prose = (text: unknown): string => (text ? escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>') : '');

const refName = (ref: string): string => ref.slice(ref.lastIndexOf('/') + 1);
const anchor = (kind: string, name: string): string => `${kind}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
const operationId = (method: string, path: string): string => anchor('op', `${method}_${path}`);

const asObject = (value: unknown): Json => (value && typeof value === 'object' ? (value as Json) : {});

/** The limits of a schema worth showing next to its type. */
function constraints(schema: Json): string {
  const parts: string[] = [];
  const show: Array<[string, string]> = [
    ['minLength', 'min length'],
    ['maxLength', 'max length'],
    ['minimum', '≥'],
    ['exclusiveMinimum', '>'],
    ['maximum', '≤'],
    ['exclusiveMaximum', '<'],
    ['minItems', 'min items'],
    ['maxItems', 'max items'],
    ['format', 'format'],
    ['pattern', 'pattern'],
    ['default', 'default'],
  ];
  for (const [key, label] of show) {
    if (schema[key] !== undefined) parts.push(`<span class="chip">${escapeHtml(label)} ${escapeHtml(JSON.stringify(schema[key]))}</span>`);
  }
  if (schema.additionalProperties === false) parts.push('<span class="chip">no other properties</span>');
  return parts.join(' ');
}

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it) as a readable nested list. */
function renderSchema(raw: unknown, depth = 0): string {
  const schema = asObject(raw);
  if (typeof schema.$ref === 'string') {
    const name = refName(schema.$ref);
    return `<a class="type" href="#${anchor('schema', name)}">${escapeHtml(name)}</a>`;
  }
  if (depth > 8) return '<span class="type">…</span>';
  const union = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(union)) return union.map((s) => renderSchema(s, depth + 1)).join(' <span class="op">|</span> ');
  if (Array.isArray(schema.allOf)) return schema.allOf.map((s) => renderSchema(s, depth + 1)).join(' <span class="op">&amp;</span> ');
  if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(' <span class="op">|</span> ');

  const types = Array.isArray(schema.type) ? (schema.type as string[]) : schema.type ? [String(schema.type)] : [];
  const nullable = types.includes('null');
  const main = types.filter((t) => t !== 'null');
  let body: string;
  if (main.includes('object') || schema.properties) {
    const props = asObject(schema.properties);
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const rows = Object.entries(props).map(([name, prop]) => {
      const description = asObject(prop).description;
      return `<li><code class="prop">${escapeHtml(name)}</code>${required.has(name) ? '' : '<span class="opt">?</span>'}: ${renderSchema(prop, depth + 1)}${description ? ` <span class="desc">— ${prose(description)}</span>` : ''}</li>`;
    });
    const extra = schema.additionalProperties && typeof schema.additionalProperties === 'object' ? `<li><em>any key</em>: ${renderSchema(schema.additionalProperties, depth + 1)}</li>` : '';
    const named = schema.propertyNames ? `<li><em>keys</em>: ${renderSchema(schema.propertyNames, depth + 1)}</li>` : '';
    body = rows.length || extra || named ? `<span class="type">object</span> ${constraints(schema)}<ul class="props">${rows.join('')}${named}${extra}</ul>` : `<span class="type">object</span>`;
  } else if (main.includes('array')) {
    body = `<span class="type">array of</span> ${renderSchema(schema.items, depth + 1)} ${constraints(schema)}`;
  } else if (main.length) {
    body = `<span class="type">${escapeHtml(main.join(' | '))}</span> ${constraints(schema)}`;
  } else {
    body = '<span class="type">any</span>';
  }
  return nullable ? `${body} <span class="op">|</span> <span class="type">null</span>` : body;
}

function renderHeaders(headers: Json, doc: OpenApiDocument): string {
  const rows = Object.entries(headers).map(([name, raw]) => {
    let header = asObject(raw);
    if (typeof header.$ref === 'string') header = asObject(asObject(doc.components?.headers)[refName(header.$ref)]);
    return `<li><code>${escapeHtml(name)}</code>: ${renderSchema(header.schema)} <span class="desc">— ${prose(header.description)}</span></li>`;
  });
  return rows.length ? `<div class="label">Headers</div><ul class="props">${rows.join('')}</ul>` : '';
}

function renderContent(content: unknown): string {
  return Object.entries(asObject(content))
    .map(([mediaType, media]) => `<div class="media"><span class="chip">${escapeHtml(mediaType)}</span> ${renderSchema(asObject(media).schema)}</div>`)
    .join('');
}

function renderOperation(method: string, path: string, raw: unknown, doc: OpenApiDocument): string {
  const op = asObject(raw);
  const security = (op.security ?? doc.security) as unknown[] | undefined;
  const auth = security && security.length ? '<span class="chip auth">Bearer API key</span>' : '<span class="chip">no auth</span>';
  const params = ((op.parameters as unknown[] | undefined) ?? []).map(asObject);
  const paramRows = params
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${renderSchema(p.schema)}</td><td>${prose(p.description ?? asObject(p.schema).description)}</td></tr>`,
    )
    .join('');
  const body = asObject(op.requestBody);
  const responses = Object.entries(asObject(op.responses))
    .map(([status, r]) => {
      const response = asObject(r);
      return `<div class="response"><span class="status s${escapeHtml(status[0])}">${escapeHtml(status)}</span> ${prose(response.description)}${renderHeaders(asObject(response.headers), doc)}${renderContent(response.content)}</div>`;
    })
    .join('');
  return `<section class="operation" id="${operationId(method, path)}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code> ${auth}</h3>
<p>${prose(op.summary)}</p>${op.description ? `<p class="desc">${prose(op.description)}</p>` : ''}
${paramRows ? `<div class="label">Parameters</div><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th></th></tr>${paramRows}</table>` : ''}
${body.content ? `<div class="label">Request body${body.required ? '' : ' (optional)'}</div>${renderContent(body.content)}` : ''}
<div class="label">Responses</div>${responses}
</section>`;
}

/** A self-contained HTML page listing every operation, its parameters, bodies and responses, and every schema. */
export function renderDocsPage(doc: OpenApiDocument): string {
  const operations: Array<{ method: string; path: string; op: Json }> = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = asObject(item)[method];
      if (op) operations.push({ method, path, op: asObject(op) });
    }
  }
  const tags = (doc.tags ?? []).map((t) => t.name);
  for (const { op } of operations) for (const tag of (op.tags as string[] | undefined) ?? ['other']) if (!tags.includes(tag)) tags.push(tag);
  const byTag = (tag: string) => operations.filter(({ op }) => ((op.tags as string[] | undefined) ?? ['other']).includes(tag));

  const toc = tags
    .map(
      (tag) =>
        `<li>${escapeHtml(tag)}<ul>${byTag(tag)
          .map(({ method, path }) => `<li><a href="#${operationId(method, path)}"><span class="method ${method}">${method.toUpperCase()}</span> ${escapeHtml(path)}</a></li>`)
          .join('')}</ul></li>`,
    )
    .join('');
  const sections = tags
    .map((tag) => {
      const description = doc.tags?.find((t) => t.name === tag)?.description;
      return `<h2 id="${anchor('tag', tag)}">${escapeHtml(tag)}</h2>${description ? `<p class="desc">${prose(description)}</p>` : ''}${byTag(tag)
        .map(({ method, path, op }) => renderOperation(method, path, op, doc))
        .join('\n')}`;
    })
    .join('\n');
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, schema]) => `<section class="schema" id="${anchor('schema', name)}"><h3>${escapeHtml(name)}</h3>${renderSchema(schema)}</section>`)
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} ${escapeHtml(doc.info.version)}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{margin:0 0 4px}h2{margin-top:40px;border-bottom:2px solid #d8dee8;text-transform:capitalize}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f5;padding:1px 4px;border-radius:3px}
a{color:#1f5fbf;text-decoration:none}a:hover{text-decoration:underline}
.operation,.schema{background:#fff;border:1px solid #d8dee8;border-radius:6px;padding:12px 16px;margin:14px 0}
.operation h3{margin:0;font-size:16px}
.method{display:inline-block;min-width:52px;text-align:center;font:bold 12px ui-monospace,monospace;color:#fff;border-radius:3px;padding:2px 4px}
.get{background:#2f7d32}.post{background:#1f5fbf}.put{background:#a36200}.patch{background:#7b4bb7}.delete{background:#b3261e}
.chip{display:inline-block;font-size:12px;background:#eef1f5;border-radius:10px;padding:0 8px;color:#4a5568}
.chip.auth{background:#fff4d6}
.label{font-weight:600;margin-top:10px;font-size:13px;text-transform:uppercase;color:#4a5568}
.desc{color:#4a5568}.type{color:#7b4bb7;font-weight:600}.op{color:#8a94a6}.opt{color:#b3261e}
.props{margin:4px 0;padding-left:20px}
.response{margin:6px 0}.status{display:inline-block;min-width:36px;font:bold 13px ui-monospace,monospace}
.s2{color:#2f7d32}.s4{color:#a36200}.s5{color:#b3261e}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #e5e9f0;padding:4px 6px;text-align:left;vertical-align:top}
nav ul{padding-left:18px}nav li{list-style:none}nav .method{min-width:48px;font-size:11px}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(doc.info.title)} <span class="chip">${escapeHtml(doc.info.version)}</span> <span class="chip">OpenAPI ${escapeHtml(doc.openapi)}</span></h1>
<p>${prose(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Authentication: <code>Authorization: Bearer &lt;api key&gt;</code>.</p>
<nav><ul>${toc}<li><a href="#schemas">schemas</a></li></ul></nav>
${sections}
<h2 id="schemas">schemas</h2>
${schemas}
</main>
</body>
</html>`;
}
