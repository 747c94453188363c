import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../src/errors.js';
import { pythonFloatRepr, pythonJson } from '../src/python-json.js';
import { randomJson, seededPrng } from './seeded-prng.js';

describe('pythonJson (json.dumps defaults)', () => {
  it.each<[unknown, string]>([
    [{ a: 1 }, '{"a": 1}'],
    [[1, 2], '[1, 2]'],
    [[], '[]'],
    [{}, '{}'],
    [null, 'null'],
    [true, 'true'],
    ['abc', '"abc"'],
    [{ b: [1, { c: null }], a: 'x' }, '{"b": [1, {"c": null}], "a": "x"}'],
    [{ name: 'café' }, '{"name": "caf\\u00e9"}'],
    ['€', '"\\u20ac"'],
    ['😀', '"\\ud83d\\ude00"'],
    ['"\\\n\r\t\b\f\u0001\u007f', '"\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u007f"'],
    [1.5, '1.5'],
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [1.5e16, '15000000000000000'],
    [1.5e-7, '1.5e-07'],
    [123456789.125, '123456789.125'],
    [-2.5e-10, '-2.5e-10'],
    [NaN, 'NaN'],
    [-Infinity, '-Infinity'],
    [10n ** 30n, '1000000000000000000000000000000'],
    [{ u: undefined, f: () => 1, k: 1 }, '{"k": 1}'],
    [[undefined], '[null]'],
    [new Date(0), '"1970-01-01T00:00:00.000Z"'],
  ])('case %# -> %s', (value, text) => {
    expect(pythonJson(value)).toBe(text);
  });
  it.each<[number, string]>([
    [1e16 + 0.5, '1e+16'],
    [1.5e16, '1.5e+16'],
    [1e22, '1e+22'],
    [-0, '-0.0'],
    [2, '2.0'],
    [1234.5, '1234.5'],
    [9999999999999998, '9999999999999998.0'],
  ])('float repr %d -> %s', (n, text) => {
    expect(pythonFloatRepr(n)).toBe(text);
  });
  it.each<[string, string]>([
    ['', '""'],
    ['plain ASCII ~ text', '"plain ASCII ~ text"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['x\u00e9y\nz', '"x\\u00e9y\\nz"'],
    ['\u0080', '"\\u0080"'],
  ])('string %j: verbatim runs kept around escapes', (text, json) => {
    expect(pythonJson(text)).toBe(json);
  });
  it('names the path of a cycle', () => {
    const a: { x: unknown[] } = { x: [1, {}] };
    (a.x[1] as Record<string, unknown>).y = a;
    expect(() => pythonJson(a)).toThrow('circular reference at (root).x[1].y');
  });
  it('rejects cycles and bare functions with InvalidPayloadError', () => {
    const a: unknown[] = [];
    a.push(a);
    expect(() => pythonJson(a)).toThrow(InvalidPayloadError);
    expect(() => pythonJson(() => 1)).toThrow(InvalidPayloadError);
  });
  it('parses back to the same value for thousands of random values (property)', () => {
    const rng = seededPrng(0x150);
    for (let i = 0; i < 3000; i++) {
      const v = randomJson(rng);
      const text = pythonJson(v);
      expect(text).toMatch(/^[\x20-\x7e]*$/);
      expect(JSON.parse(text)).toEqual(v);
    }
  });
});
