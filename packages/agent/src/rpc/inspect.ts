import type { ExportedMethod } from './exports.js';

/** `<method>.inspect` (docs/protocol.md 4.4): params with kind/default/annotation, doc, return. */
export function describeMethod(m: ExportedMethod): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const params: Record<string, unknown> = {};
  for (const p of m.params ?? []) {
    const d: Record<string, unknown> = { kind: p.kind };
    if (p.hasDefault) d.default = p.default;
    if (p.annotation !== undefined) d.annotation = p.annotation;
    params[p.name] = d;
  }
  out.params = params;
  if (m.doc !== undefined) out.doc = m.doc;
  const source = m.site === undefined ? undefined : sourceOf(m.site);
  if (source !== undefined) out.source = source;
  if (m.returns !== undefined) out.return = m.returns;
  return out;
}

/**
 * The stack line of the code that exported a method (`at fn (file:///x/y.js:12:5)`), taken at
 * export time below `exportFn`: one frame, so exporting costs little. Parsed only when asked.
 */
export function exportSite(exportFn: (...args: never[]) => unknown): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  const holder: { stack?: string } = {};
  try {
    Error.captureStackTrace(holder, exportFn);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return holder.stack?.split('\n')[1];
}

/**
 * VOLTTRON's `source` of `<method>.inspect`: `{file, line_number}`, the file relative to the
 * working directory when under it (VOLTTRON cuts its package root), from an `exportSite` line.
 */
export function sourceOf(site: string): { file: string; line_number: number } | undefined {
  const m = /(?:\(|at )((?:file:\/\/)?[^()\s]+?):(\d+):\d+\)?\s*$/.exec(site);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  let file = m[1].startsWith('file://') ? decodeURIComponent(m[1].slice('file://'.length)) : m[1];
  const cwd = `${process.cwd()}/`;
  if (file.startsWith(cwd)) file = file.slice(cwd.length);
  return { file, line_number: Number(m[2]) };
}
