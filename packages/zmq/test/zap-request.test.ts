import { describe, expect, it } from 'vitest';
import { parseZapRequest, zapReply } from '../src/auth/zap-request.js';

describe('ZAP request parsing', () => {
  const head = [Buffer.from('rid'), Buffer.alloc(0), Buffer.from('1.0'), Buffer.from('7')];
  const f = (...s: Array<string | Buffer>) => s.map((x) => (typeof x === 'string' ? Buffer.from(x) : x));

  it('parses CURVE, PLAIN and NULL and encodes the CURVE key as base64url', () => {
    const key = Buffer.alloc(32, 1);
    const r = parseZapRequest([...head, ...f('vip', '127.0.0.1', 'server-id', 'CURVE', key)]);
    expect(r).toMatchObject({
      ok: true,
      request: { domain: 'vip', address: '127.0.0.1', mechanism: 'CURVE', credential: key.toString('base64url') },
    });
    expect(parseZapRequest([...head, ...f('vip', 'a', '', 'PLAIN', 'user', 'pw')])).toMatchObject({
      ok: true,
      request: { credential: 'user' },
    });
    expect(parseZapRequest([...head, ...f('', 'a', '', 'NULL')])).toMatchObject({ ok: true, request: { domain: '', credential: '' } });
  });

  it('answers malformed requests instead of throwing', () => {
    expect(parseZapRequest([])).toMatchObject({ ok: false, status: '500' });
    expect(parseZapRequest(f('rid', 'x'))).toMatchObject({ ok: false, status: '500' });
    expect(parseZapRequest([...head.slice(0, 2), ...f('2.0', '7', 'vip', 'a', '', 'NULL')])).toMatchObject({
      ok: false,
      status: '400',
      envelope: expect.any(Array),
    });
    expect(parseZapRequest([...head, ...f('vip')])).toMatchObject({ ok: false, status: '500' });
    expect(parseZapRequest([...head, ...f('vip', 'a', '', 'GSSAPI')])).toMatchObject({ ok: false, status: '400' });
    expect(parseZapRequest([...head, ...f('vip', 'a', '', 'CURVE', 'short')])).toMatchObject({ ok: false, status: '400' });
    const reply = zapReply(head, '200', 'OK', 'u');
    expect(reply.map(String)).toEqual(['rid', '', '1.0', '7', '200', 'OK', 'u', '']);
  });
});
