import { InvalidPayloadError } from './errors.js';

/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default arguments, which is what
 * every VOLTTRON 9 peer and router emits (docs/protocol.md 1.4, 4.2):
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
  const out = render(value, '', { stack: [], path: [] });
  if (out === undefined) throw new InvalidPayloadError('JSON value', `${typeof value} cannot be serialized`);
  return out;
}

/**
 * The containers being rendered (cycle check) and the key of each, so that the path of a cycle
 * (`(root).a[0]`) is built only when one is found: the common case allocates no path strings.
 */
interface RenderState {
  readonly stack: object[];
  /** Object keys, and array indexes as numbers. */
  readonly path: Array<string | number>;
}

function render(value: unknown, key: string | number, state: RenderState): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(k: string): unknown }).toJSON(String(key));
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
  const { stack, path } = state;
  if (stack.includes(obj)) throw new InvalidPayloadError('JSON value', `circular reference at ${cyclePath(path)}`);
  stack.push(obj);
  try {
    let out: string;
    if (Array.isArray(obj)) {
      out = '[';
      for (let i = 0; i < obj.length; i++) {
        path.push(i);
        const text = render(obj[i] as unknown, i, state);
        path.pop();
        out += (i === 0 ? '' : ', ') + (text ?? 'null');
      }
      return out + ']';
    }
    out = '{';
    let first = true;
    for (const k of Object.keys(obj)) {
      path.push(k);
      const text = render((obj as Record<string, unknown>)[k], k, state);
      path.pop();
      if (text === undefined) continue;
      out += (first ? '' : ', ') + pythonString(k) + ': ' + text;
      first = false;
    }
    return out + '}';
  } finally {
    stack.pop();
  }
}

/** `(root).a[0].b` from the keys of the containers entered so far (array indexes shown in brackets). */
function cyclePath(keys: ReadonlyArray<string | number>): string {
  let out = '(root)';
  for (const k of keys) out += typeof k === 'number' ? `[${k}]` : `.${k}`;
  return out;
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

/** Printable ASCII except `"` and `\`: such text is its own JSON literal body under `ensure_ascii`. */
const VERBATIM = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string literal with Python's `ensure_ascii` escaping (everything outside U+0020..U+007E escaped). */
export function pythonString(text: string): string {
  // Fast path: identities, topics, method names and most values need no escaping; one regex test
  // instead of a character-by-character copy.
  if (VERBATIM.test(text)) return '"' + text + '"';
  let out = '"';
  let from = 0; // start of the run of characters copied as they are
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c) continue;
    out += text.slice(from, i);
    from = i + 1;
    const short = SHORT_ESCAPES[text[i] as string];
    out += short ?? '\\u' + code.toString(16).padStart(4, '0'); // UTF-16 units: astral characters become surrogate pairs
  }
  return out + text.slice(from) + '"';
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
