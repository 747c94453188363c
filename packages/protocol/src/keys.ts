import { generateKeyPairSync } from 'node:crypto';
import { KeyError } from './errors.js';

/**
 * CURVE key encodings as VOLTTRON handles them (docs/protocol.md 5.1, `socket.py` encode_key/decode_key).
 *
 * A CURVE key is 32 raw bytes. libzmq's own text form is Z85 (40 chars, ZeroMQ RFC 32);
 * VOLTTRON's canonical external form is URL-safe base64 without padding (43 chars).
 * `decodeKey` accepts every text length VOLTTRON's decode_key accepts and returns the raw bytes.
 */

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < Z85_ALPHABET.length; i++) Z85_DECODE[Z85_ALPHABET.charCodeAt(i)] = i;

export const CURVE_KEY_BYTES = 32;

/** A CURVE key pair in VOLTTRON's canonical form: 43-char unpadded base64url. */
export interface CurveKeyPair {
  readonly public: string;
  readonly secret: string;
}

/** Z85-encodes `data` (length must be a multiple of 4). */
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new KeyError(`Z85 input must be a multiple of 4 bytes, got ${data.length}`);
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let value =
      ((data[i] as number) * 0x1000000 + ((data[i + 1] as number) << 16) + ((data[i + 2] as number) << 8) + (data[i + 3] as number)) >>> 0;
    const chunk = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chunk[j] = Z85_ALPHABET[value % 85] as string;
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** Decodes Z85 text (length must be a multiple of 5); throws KeyError on a bad character or overflow. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new KeyError(`Z85 text must be a multiple of 5 characters, got ${text.length}`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const code = text.charCodeAt(i + j);
      const digit = code < 128 ? (Z85_DECODE[code] as number) : -1;
      if (digit < 0) throw new KeyError(`invalid Z85 character ${JSON.stringify(text[i + j])} at position ${i + j}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new KeyError(`Z85 group at position ${i} overflows 32 bits`);
    out.writeUInt32BE(value, (i / 5) * 4);
  }
  return out;
}

/** URL-safe base64; '+' and '/' are accepted too, as Python's urlsafe_b64decode does. */
const BASE64URL_RE = /^[A-Za-z0-9_+/-]*$/;
const HEX_RE = /^[0-9A-Fa-f]*$/;

function fromBase64Url(text: string, what: string): Buffer {
  const bare = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  if (!BASE64URL_RE.test(bare) || bare.length % 4 === 1) throw new KeyError(`${what} is not URL-safe base64`);
  return Buffer.from(bare, 'base64url');
}

function fromHex(text: string, what: string): Buffer {
  if (!HEX_RE.test(text)) throw new KeyError(`${what} is not hexadecimal`);
  return Buffer.from(text, 'hex');
}

function z85TextToRaw(z85: string, what: string): Buffer {
  try {
    return z85Decode(z85);
  } catch (err) {
    throw new KeyError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes a CURVE key in any encoding VOLTTRON's decode_key accepts and returns the raw 32 bytes:
 * 40 chars Z85, 43 base64url, 44 padded base64url, 54/56 base64url of a Z85 string,
 * 64 hex of the raw key, 80 hex of a Z85 string. Anything else throws KeyError.
 */
export function decodeKey(text: string): Buffer {
  if (typeof text !== 'string') throw new KeyError(`a CURVE key must be text, got ${typeof text}`);
  const key = text.trim();
  let raw: Buffer;
  switch (key.length) {
    case 40:
      raw = z85TextToRaw(key, 'Z85 key (40 chars)');
      break;
    case 43:
    case 44:
      raw = fromBase64Url(key, `base64url key (${key.length} chars)`);
      break;
    case 54:
    case 56: {
      const what = `base64url of a Z85 key (${key.length} chars)`;
      raw = z85TextToRaw(fromBase64Url(key, what).toString('latin1'), what);
      break;
    }
    case 64:
      raw = fromHex(key, 'hex key (64 chars)');
      break;
    case 80:
      raw = z85TextToRaw(fromHex(key, 'hex of a Z85 key (80 chars)').toString('latin1'), 'hex of a Z85 key (80 chars)');
      break;
    default:
      throw new KeyError(
        `a CURVE key must be 40 (Z85), 43/44 (base64url), 54/56 (base64url of Z85), 64 (hex) or 80 (hex of Z85) characters; got ${key.length}`,
      );
  }
  if (raw.length !== CURVE_KEY_BYTES) throw new KeyError(`decoded key has ${raw.length} bytes; a CURVE key has ${CURVE_KEY_BYTES}`);
  return raw;
}

/**
 * The canonical VOLTTRON form (43-char unpadded base64url) of a key given as raw 32 bytes,
 * as a 40-byte Z85 buffer, or as text in any encoding `decodeKey` accepts.
 */
export function encodeKey(key: Uint8Array | string): string {
  return toRaw(key).toString('base64url');
}

/** The Z85 form (40 chars, what libzmq socket options take) of a key in any accepted encoding. */
export function keyToZ85(key: Uint8Array | string): string {
  return z85Encode(toRaw(key));
}

function toRaw(key: Uint8Array | string): Buffer {
  if (typeof key === 'string') return decodeKey(key);
  if (key.length === CURVE_KEY_BYTES) return Buffer.from(key);
  if (key.length === 40) return z85TextToRaw(Buffer.from(key).toString('latin1'), 'Z85 key (40 bytes)');
  throw new KeyError(`a binary CURVE key must be 32 raw bytes or 40 Z85 bytes; got ${key.length}`);
}

/**
 * A fresh X25519 key pair (node:crypto) in VOLTTRON's canonical form. Like VOLTTRON's keystore,
 * pairs whose public or secret text starts with '-' are discarded (they read as CLI options).
 */
export function generateKeyPair(): CurveKeyPair {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    const pub = publicKey.export({ format: 'jwk' }).x;
    const sec = privateKey.export({ format: 'jwk' }).d;
    if (typeof pub !== 'string' || typeof sec !== 'string') throw new KeyError('node:crypto returned an X25519 JWK without x/d');
    if (!pub.startsWith('-') && !sec.startsWith('-')) return { public: pub, secret: sec };
  }
  throw new KeyError('could not generate a key pair without a leading "-" in 1000 attempts');
}
