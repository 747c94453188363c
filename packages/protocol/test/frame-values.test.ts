import { describe, expect, it } from 'vitest';
import { InvalidPayloadError, ProtocolError } from '../src/errors.js';
import {
  decodeCountOrBool,
  decodeFrameValue,
  encodeBoolFrame,
  encodeCountFrame,
  encodeFloatFrame,
  encodeLatin1Frame,
  jsonFrame,
  reencodeLikePython,
} from '../src/frame-values.js';
import { randomJson, seededPrng } from './seeded-prng.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const hex = (h: string) => Buffer.from(h, 'hex');

describe('frame value encoders', () => {
  it('bool is one byte', () => {
    expect(encodeBoolFrame(true)).toEqual(hex('01'));
    expect(encodeBoolFrame(false)).toEqual(hex('00'));
  });
  it.each([
    [1, '01000000'],
    [600, '58020000'], // query agent-monitor-frequency as the transcripts show it
    [0xffffffff, 'ffffffff'],
  ])('count %d is 4-byte LE', (n, h) => {
    expect(encodeCountFrame(n)).toEqual(hex(h));
  });
  it.each([-1, 2 ** 32, 1.5, NaN])('count %d is out of range', (n) => {
    expect(() => encodeCountFrame(n)).toThrow(ProtocolError);
  });
  it('float is 4-byte LE single', () => {
    expect(encodeFloatFrame(1.0)).toEqual(latin1('\x00\x00\x80?'));
    expect(() => encodeFloatFrame(1e39)).toThrow(ProtocolError);
  });
  it('Latin-1 text frames refuse characters above U+00FF', () => {
    expect(encodeLatin1Frame('café')).toEqual(hex('636166e9'));
    expect(() => encodeLatin1Frame('€')).toThrow(/U\+20AC/);
  });
  it('jsonFrame writes ASCII Python json.dumps text', () => {
    expect(jsonFrame({ bus: '', headers: {}, message: 'é' }).toString('latin1')).toBe('{"bus": "", "headers": {}, "message": "\\u00e9"}');
  });
});

describe('decodeFrameValue (deserialize_frames)', () => {
  it.each<[Buffer, unknown]>([
    [latin1('hello'), 'hello'],
    [latin1('{"a":1}'), { a: 1 }],
    [latin1('"abc"'), 'abc'],
    [latin1('true'), true],
    [latin1('null'), null],
    [latin1('5'), 5],
    [latin1('1.0'), 1],
    [latin1('NaN'), NaN],
    [hex('ff00c3a9'), '\xff\x00\xc3\xa9'],
    [Buffer.alloc(0), ''],
  ])('case %#', (frame, value) => {
    expect(decodeFrameValue(frame)).toEqual(value);
  });
});

describe('decodeCountOrBool', () => {
  it('reads what a Python router writes', () => {
    expect(decodeCountOrBool(hex('01'))).toBe(true);
    expect(decodeCountOrBool(hex('00'))).toBe(false);
    expect(decodeCountOrBool(hex('01000000'))).toBe(1);
    expect(decodeCountOrBool(hex('58020000'))).toBe(600);
    expect(decodeCountOrBool(hex('0100'))).toBeInstanceOf(InvalidPayloadError);
  });
});

describe('reencodeLikePython: the docs/protocol.md 1.4 table', () => {
  it.each<[string, Buffer, Buffer]>([
    ['plain text', latin1('hello'), latin1('hello')],
    ['binary, not JSON', hex('00ff10c3'), hex('00ff10c3')],
    ['UTF-8 text, not JSON', Buffer.from('héllo wörld', 'utf8'), Buffer.from('héllo wörld', 'utf8')],
    ['object', latin1('{"a":1}'), latin1('{"a": 1}')],
    ['list', latin1('[1,2]'), latin1('[1, 2]')],
    ['JSON string', latin1('"abc"'), latin1('abc')],
    ['true', latin1('true'), hex('01')],
    ['false', latin1('false'), hex('00')],
    ['null', latin1('null'), Buffer.alloc(0)],
    ['int', latin1('5'), hex('05000000')],
    ['float 1.0', latin1('1.0'), latin1('\x00\x00\x80?')],
    ['RPC message id', latin1('1716900000.140234567'), encodeFloatFrame(1716900000.140234567)],
    ['raw UTF-8 JSON becomes mojibake', Buffer.from('{"name":"café"}', 'utf8'), latin1('{"name": "caf\\u00c3\\u00a9"}')],
    ['escaped JSON stays right', latin1('{"name":"caf\\u00e9"}'), latin1('{"name": "caf\\u00e9"}')],
    ['ResultsDictionary id survives', latin1('1716900000.000000.8779123456.000000'), latin1('1716900000.000000.8779123456.000000')],
  ])('%s', (_name, sent, delivered) => {
    expect(reencodeLikePython(sent)).toEqual(delivered);
  });
  it.each([['-1'], ['4294967296']])('%s crashes a Python router: ProtocolError here', (text) => {
    expect(() => reencodeLikePython(latin1(text))).toThrow(ProtocolError);
  });
});

describe('frame values (property)', () => {
  it('JSON containers survive a Python router unchanged once written by jsonFrame', () => {
    const rng = seededPrng(0xf4a3e);
    for (let i = 0; i < 2000; i++) {
      const inner = randomJson(rng, 1, 'k');
      const v = rng.int(2) ? [inner] : { k: inner };
      const frame = jsonFrame(v);
      expect(decodeFrameValue(frame)).toEqual(v);
      expect(reencodeLikePython(frame)).toEqual(frame);
    }
  });
  it('random bytes are forwarded unchanged or refused with ProtocolError, never anything else', () => {
    const rng = seededPrng(0xb17e5);
    const jsonish = ['1', '-', '"', 'e', '.', ' ', '[', ']', '{', '}', 'true', 'null', '\xff'];
    for (let i = 0; i < 3000; i++) {
      const frame = rng.int(2) ? rng.bytes(rng.int(12)) : latin1(Array.from({ length: 1 + rng.int(5) }, () => rng.pick(jsonish)).join(''));
      try {
        const out = reencodeLikePython(frame);
        if (decodeFrameValue(frame) === frame.toString('latin1')) expect(out).toEqual(frame);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
      }
    }
  });
});
