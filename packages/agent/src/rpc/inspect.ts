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
  if (m.returns !== undefined) out.return = m.returns;
  return out;
}
