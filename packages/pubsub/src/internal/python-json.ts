/**
 * JSON text as Python's `json.dumps` writes it with default options: separators `", "` and
 * `": "`, every non-ASCII character escaped (`ensure_ascii`). Python 9.x agents decode frames as
 * Latin-1 before `json.loads` (PROTOCOL.md 1.4), so raw UTF-8 would reach them as mojibake.
 * Local until @vip/protocol publishes its own `pythonJson` (then this file goes).
 */
export function pythonJson(value: unknown): string {
  return escapeNonAscii(write(value));
}

const NON_ASCII = /[\u007f-\uffff]/g;

function escapeNonAscii(text: string): string {
  return text.replace(NON_ASCII, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function write(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ', ') + write(value[i]);
    return out + ']';
  }
  let out = '{';
  let first = true;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    out += (first ? '' : ', ') + JSON.stringify(k) + ': ' + write(v);
    first = false;
  }
  return out + '}';
}
