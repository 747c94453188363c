import { InvalidPayloadError, ProtocolError } from './errors.js';
import type { Frame } from './frames.js';
import { pythonJson } from './python-json.js';

/**
 * Frame value encodings of VOLTTRON 9 (docs/protocol.md 1.4, `volttron/utils/frame_serialization.py`).
 *
 * Python peers and routers run every frame through `serialize_frames`/`deserialize_frames`:
 *
 * | Python value | frame bytes                                   | here                         |
 * |--------------|-----------------------------------------------|------------------------------|
 * | `str`        | ISO-8859-1 (Latin-1); > U+00FF raises         | `encodeLatin1Frame`          |
 * | list / dict  | `json.dumps` text (ASCII, `", "`, `": "`)     | `jsonFrame` / `pythonJson`   |
 * | `bool`       | 1 byte `01` / `00`                            | `encodeBoolFrame`            |
 * | `int`        | 4 bytes, unsigned 32-bit little-endian        | `encodeCountFrame`           |
 * | `float`      | 4 bytes, IEEE single little-endian            | `encodeFloatFrame`           |
 * | `None`       | empty frame                                   | `EMPTY_FRAME`                |
 *
 * Decoding reads the bytes as Latin-1 and replaces the text by its JSON value when it parses
 * (`decodeFrameValue`). Frames our router writes itself that Python agents decode by length
 * (pubsub `request_response`, `query` ints) use the bool and count forms; `decodeCountOrBool`
 * reads them back on the agent side. `reencodeLikePython` reproduces what a Python router does to a
 * frame it forwards (the bug-compatibility table of 1.4).
 */

const UINT32_MAX = 0xffffffff;

/** `True`/`False` as Python serializes a bool: one byte. */
export function encodeBoolFrame(value: boolean): Frame {
  return Buffer.from([value ? 1 : 0]);
}

/** A Python `int` as serialized: 4-byte little-endian uint32. Throws ProtocolError outside 0..2^32-1. */
export function encodeCountFrame(value: number): Frame {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new ProtocolError(`a count frame holds an integer in 0..${UINT32_MAX}; got ${value}`);
  }
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value, 0);
  return out;
}

/** A Python `float` as serialized: 4-byte little-endian IEEE single. Throws ProtocolError when it overflows float32. */
export function encodeFloatFrame(value: number): Frame {
  if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
    throw new ProtocolError(`float ${value} is too large for a 4-byte float frame`);
  }
  const out = Buffer.alloc(4);
  out.writeFloatLE(value, 0);
  return out;
}

/** A Python `str` as serialized: Latin-1 bytes. Throws ProtocolError for a character above U+00FF. */
export function encodeLatin1Frame(text: string): Frame {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      throw new ProtocolError(
        `character U+${text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')} at ${i} cannot be sent as a Latin-1 frame`,
      );
    }
  }
  return Buffer.from(text, 'latin1');
}

/** A JSON frame as a Python peer writes it (`pythonJson` text; pure ASCII, so the bytes are the same in UTF-8 and Latin-1). */
export function jsonFrame(value: unknown): Frame {
  return Buffer.from(pythonJson(value), 'latin1');
}

/**
 * What Python's `deserialize_frames` makes of one frame: the Latin-1 text, replaced by its JSON value
 * when the text parses as JSON (`"abc"` becomes `abc`, `5` becomes 5, `null` becomes null).
 */
export function decodeFrameValue(frame: Frame): unknown {
  const text = frame.toString('latin1');
  const parsed = tryJson(text);
  return parsed.ok ? parsed.value : text;
}

/** A reply value a Python router writes by length: 1 byte = bool, 4 bytes = uint32 LE (pubsub counts, query ints). */
export function decodeCountOrBool(frame: Frame): number | boolean | InvalidPayloadError {
  if (frame.length === 1) return frame[0] !== 0;
  if (frame.length === 4) return frame.readUInt32LE(0);
  return new InvalidPayloadError('count or bool frame', `expected 1 or 4 bytes, got ${frame.length}`);
}

/**
 * The frame a Python 9.x router delivers for `frame` (decode then re-encode, docs/protocol.md 1.4 table):
 * non-JSON bytes unchanged, JSON containers re-serialized, a JSON string unquoted, true/false as one
 * byte, null as an empty frame, an integer as 4-byte uint32, a number with a fraction or exponent as
 * float32. Throws ProtocolError where the Python router would crash (negative or >= 2^32 integer,
 * string above U+00FF, float32 overflow). Known gap: `1.0` nested in a list or object renders as `1`,
 * and integer-like object keys move first, because JavaScript numbers and objects cannot keep those.
 */
export function reencodeLikePython(frame: Frame): Frame {
  const text = frame.toString('latin1');
  const parsed = tryJson(text);
  if (!parsed.ok) return frame;
  const value = parsed.value;
  if (value === null) return Buffer.alloc(0);
  if (typeof value === 'boolean') return encodeBoolFrame(value);
  if (typeof value === 'string') return encodeLatin1Frame(value);
  if (typeof value === 'number') return /[.eE]/.test(text) ? encodeFloatFrame(value) : encodeCountFrame(value);
  return jsonFrame(value);
}

type JsonParse = { readonly ok: true; readonly value: unknown } | { readonly ok: false };

/** Python's json.loads also accepts NaN/Infinity/-Infinity as whole documents. */
const PY_SPECIAL: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function tryJson(text: string): JsonParse {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false };
  const special = PY_SPECIAL[trimmed];
  if (special !== undefined) return { ok: true, value: special };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false }; // not JSON: Python keeps the text, and so do we
  }
}

/**
 * Frames whose bytes are JSON text meant as a JSON value in an argument list (a RabbitMQ router's
 * `query` answer: VOLTTRON's RMQ router puts Python objects in `args`, so `addresses` is a list
 * and `None` a null there, not their text). Over ZeroMQ such a frame is its text, as any other.
 * Kept by identity, so a frame copied or sliced is plain text again.
 */
const JSON_VALUE_FRAMES = new WeakSet<Frame>();

/** A frame of `value`'s Python JSON text that an argument-list codec (RabbitMQ) writes as the JSON value itself. */
export function jsonValueFrame(value: unknown): Frame {
  const frame = jsonFrame(value);
  JSON_VALUE_FRAMES.add(frame);
  return frame;
}

/** True for a frame made by `jsonValueFrame`. */
export function isJsonValueFrame(frame: Frame): boolean {
  return JSON_VALUE_FRAMES.has(frame);
}
