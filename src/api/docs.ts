/**
 * A readable page of the API (/api/docs), rendered on the server from the OpenAPI document: no
 * script, no external assets, so it works offline and under the strict content security policy.
 */
export function docsPage(document: Record<string, unknown>): string {
  const escape = (s: unknown) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const paths = document.paths as Record<string, Record<string, { summary?: string; tags?: string[]; 'x-roles'?: string[]; security?: unknown[]; parameters?: { name: string; in: string; required?: boolean }[]; requestBody?: { content: Record<string, unknown> } }>>;
  const rows = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => `
      <tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary)}</td>
      <td>${op.security ? 'public' : escape((op['x-roles'] ?? []).join(', '))}</td>
      <td>${escape((op.parameters ?? []).map((p) => `${p.name} (${p.in}${p.required ? ', required' : ''})`).join('; '))}${op.requestBody ? ` body: ${escape(Object.keys(op.requestBody.content).join(', '))}` : ''}</td></tr>`),
  );
  const info = document.info as { title: string; version: string; description: string };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(info.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}code{font-size:.9em}</style>
</head><body><h1>${escape(info.title)} ${escape(info.version)}</h1><p>${escape(info.description)}</p>
<p>The machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>roles</th><th>parameters</th></tr></thead><tbody>${rows.join('')}</tbody></table></body></html>`;
}
