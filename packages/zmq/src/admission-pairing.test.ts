import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdmissionPairing, type AdmittedPeer } from './admission-pairing.js';
import type { ZapAdmission } from './zap-contract.js';

const admission = (userId: string): ZapAdmission => ({ userId, mechanism: 'CURVE', credential: 'k', address: '127.0.0.1', domain: 'vip' });
const peer = (id: string): AdmittedPeer => ({ id: Buffer.from(id), admission: undefined });

function setup() {
  const counts: string[] = [];
  const attached: Array<[string, string]> = [];
  const pairing = new AdmissionPairing({
    timeoutMs: 2000,
    attached: (p, a) => attached.push([p.id.toString(), a.userId]),
    count: (reason) => counts.push(reason),
  });
  return { pairing, counts, attached };
}

describe('AdmissionPairing', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('attaches an admission to the next connect', async () => {
    const { pairing, attached } = setup();
    const settled = pairing.admitted(admission('u1'));
    const p = peer('a');
    pairing.connected(p);
    await settled;
    expect(attached).toEqual([['a', 'u1']]);
    expect(p.admission?.userId).toBe('u1');
  });

  it('attaches a connect that arrived first to the next admission', async () => {
    const { pairing, attached } = setup();
    pairing.connected(peer('b'));
    await pairing.admitted(admission('u2'));
    expect(attached).toEqual([['b', 'u2']]);
  });

  it('does not guess when two connects are waiting', async () => {
    const { pairing, attached, counts } = setup();
    pairing.connected(peer('c1'));
    pairing.connected(peer('c2'));
    await pairing.admitted(admission('u3'));
    expect(attached).toEqual([]);
    expect(counts).toContain('admission ambiguous');
    pairing.close();
  });

  it('times out an admission whose connection never attaches', async () => {
    vi.useFakeTimers();
    const { pairing, attached, counts } = setup();
    const settled = pairing.admitted(admission('u4'));
    vi.advanceTimersByTime(2001);
    await settled;
    pairing.connected(peer('late'));
    expect(attached).toEqual([]);
    expect(counts).toEqual(['admission timeout']);
    pairing.close();
  });

  it('forgets a connect that disconnected before its admission', async () => {
    const { pairing, attached } = setup();
    const p = peer('gone');
    pairing.connected(p);
    pairing.disconnected(p);
    const settled = pairing.admitted(admission('u5'));
    pairing.close();
    await settled;
    expect(attached).toEqual([]);
  });
});
