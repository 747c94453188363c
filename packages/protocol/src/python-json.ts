import { InvalidPayloadError } from './errors.js';

/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default arguments, which is what
 * every VOLTTRON 9 peer and router emits (PROTOCOL.md 1.4, 4.2):
 * - separators `", "` and `": "`;
 * - `ensure_ascii`: every character outside printable ASCII is escaped as `\uXXXX` (lower-case hex),
 *   characters above U+FFFF as a surrogate pair; `"` and `\` escaped; `\n \r \t \b \f` short forms;
 * - key order preserved (insertion order, as JavaScript objects keep it);
 * - integers as digits; other numbers as Python's float `repr` (`1e-05`, `1.5e+16`); NaN and
 *   ±Infinity as `NaN`/`Infinity`/`-Infinity` (Python's `allow_nan` default);
 * - `toJSON()` honoured and `undefined`/functions skipped in objects (null in arrays), as JSON.stringify does.
 *
 * A JavaScript number cannot say whether Python had `1` or `1.0`: integral numbers render as integers.
 * Throws InvalidPayloadError for a cycle or a value JSON cannot carry (symbol, function at the root).
 */
export function pythonJson(value: unknown): string {
  const out = render(value, '', new Set<object>(), '(root)');
  if (out === undefined) throw new InvalidPayloadError('JSON value', `${typeof value} cannot be serialized`);
  return out;
}

function render(value: unknown, key: string, stack: Set<object>, path: string): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(k: string): unknown }).toJSON(key);
  }
  switch (typeof value) {
    case 'string':
      return pythonString(value);
    case 'number':
      return pythonNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (stack.has(obj)) throw new InvalidPayloadError('JSON value', `circular reference at ${path}`);
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.map((item: unknown, i) => render(item, String(i), stack, `${path}[${i}]`) ?? 'null');
      return `[${items.join(', ')}]`;
    }
    const fields: string[] = [];
    for (const [k, v] of Object.entries(obj)) {
      const text = render(v, k, stack, `${path}.${k}`);
      if (text !== undefined) fields.push(`${pythonString(k)}: ${text}`);
    }
    return `{${fields.join(', ')}}`;
  } finally {
    stack.delete(obj);
  }
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** A JSON string literal with Python's `ensure_ascii` escaping (everything outside U+0020..U+007E escaped). */
export function pythonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    else out += '\\u' + code.toString(16).padStart(4, '0'); // UTF-16 units: astral characters become surrogate pairs
  }
  return out + '"';
}

/** A number as Python's json module writes it: int digits, or float `repr`. */
export function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n === 0 ? 0 : n) : BigInt(n).toString();
  return pythonFloatRepr(n);
}

/** Python's `repr(float)`: shortest round-trip digits, fixed notation when -4 <= exponent < 16. */
export function pythonFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${intPart}.${frac === '' ? '0' : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${sign}${m}e${e}`;
}
