import { describe, expect, it } from 'vitest';
import { AuthFileSchema, AuthRules } from '@vip/auth';
import { HealthTable, pythonLocalTimestamp } from '../src/health/health-table.js';
import { mergeRpcAuthorizations } from '../src/auth-service/authorization-rpcs.js';
import { changedRpcAuthorizations } from '../src/auth-service/rpc-authorization-push.js';

const KEY = (c: string) => c.repeat(43);

describe('HealthTable (VOLTTRON HealthService rows)', () => {
  const at = new Date(2026, 11, 7, 14, 23, 20, 960);
  it('rows from peer events, heartbeats and alerts; vctl connections left out; bounded', () => {
    const t = new HealthTable({ now: () => at, maxPeers: 3 });
    t.added('cap.cfg');
    t.added('platform.auth');
    t.added('control.connection.12ab');
    t.heartbeat('cap.cfg', 'GOOD');
    t.alert('cap.cfg', 'temp', { status: 'BAD' });
    expect(t.report()).toEqual({
      'cap.cfg': {
        peer: 'cap.cfg',
        service_agent: false,
        connected: '2026-12-07T14:23:20.960000',
        last_heartbeat: '2026-12-07T14:23:20.960000',
        message: 'GOOD',
        last_alert: { key: 'temp', status: { status: 'BAD' }, time: '2026-12-07T14:23:20.960000' },
      },
      'platform.auth': { peer: 'platform.auth', service_agent: true, connected: '2026-12-07T14:23:20.960000' },
    });
    t.heartbeat('late.rmq', 'GOOD'); // a fourth row does not fit
    expect(t.stats()).toEqual({ peers: 3, heartbeats: 1, alerts: 1, dropped: 1 });
    t.dropped('cap.cfg');
    expect(Object.keys(t.report())).toEqual(['platform.auth']);
    expect(pythonLocalTimestamp(at)).toBe('2026-12-07T14:23:20.960000');
  });
});

describe('update_id_rpc_authorizations (VOLTTRON AuthService)', () => {
  it("takes the agent's methods the entry lacks or leaves empty, keeps and answers the entry's own", () => {
    expect(mergeRpcAuthorizations({}, { a: [], b: ['x'] })).toEqual({ answer: { a: [], b: ['x'] }, next: { a: [], b: ['x'] } });
    // nothing new: no write
    expect(mergeRpcAuthorizations({ a: [], b: ['x'] }, { a: [], b: ['x'] })).toEqual({ answer: { a: [], b: ['x'] }, next: undefined });
    // the entry overrides b; an empty a takes the agent's
    expect(mergeRpcAuthorizations({ a: [], b: ['admin'] }, { a: ['y'], b: ['x'] })).toEqual({
      answer: { a: ['y'], b: ['admin'] },
      next: { a: ['y'], b: ['admin'] },
    });
  });

  it('pushes only changed, non-service entries, with their methods that name a capability', () => {
    const rules = (rpc: Record<string, string[]>) =>
      new AuthRules(
        AuthFileSchema.parse({
          allow: [
            { credentials: KEY('A'), user_id: 'a', identity: 'agent.a', rpc_method_authorizations: rpc },
            { credentials: KEY('C'), user_id: 'control', identity: 'control', rpc_method_authorizations: { m: ['z'] } },
          ],
        }),
      );
    const before = rules({ m: [] });
    expect([...changedRpcAuthorizations(before, rules({ m: [] }))]).toEqual([]);
    expect([...changedRpcAuthorizations(before, rules({ m: ['cap'], n: [] }))]).toEqual([['agent.a', { m: ['cap'] }]]);
  });
});
