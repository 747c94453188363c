import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vip/protocol';
import { AuthFileSchema, AuthRules } from '../src/auth-rules.js';
import { Authenticator, composeUserId } from '../src/authenticator.js';
import { RefusalDelays } from '../src/refusal-delay.js';
import { parseJsonText, stripJsonComments } from '../src/json-file.js';

const KEY_A = 'A'.repeat(43);
const KEY_B = 'B'.repeat(43);

function rules(raw: unknown): AuthRules {
  const parsed = AuthFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.message);
  return new AuthRules(parsed.data);
}

const curve = (credential: string, address = '127.0.0.1') => ({ domain: 'vip', address, mechanism: 'CURVE' as const, credential });

describe('auth entries', () => {
  it('fills defaults and normalises capabilities (string, list, dict)', () => {
    const r = rules({
      allow: [
        { credentials: KEY_A, capabilities: 'a' },
        { credentials: KEY_B, user_id: 'b', capabilities: ['x', { y: { p: 1 } }, 'y'] },
        { mechanism: 'NULL', capabilities: { z: null } },
      ],
    });
    const [a, b, n] = r.allow.map((e) => e.entry);
    expect(a?.mechanism).toBe('CURVE');
    expect(a?.enabled).toBe(true);
    expect(a?.user_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(rules({ allow: [{ credentials: KEY_A }] }).allow[0]?.entry.user_id).toBe(a?.user_id); // stable across loads
    expect(rules({ allow: [{ credentials: KEY_B }] }).allow[0]?.entry.user_id).not.toBe(a?.user_id);
    expect(a?.capabilities).toEqual({ a: null });
    expect(b?.capabilities).toEqual({ x: null, y: { p: 1 } });
    expect(n?.capabilities).toEqual({ z: null });
  });

  it('resolves capabilities through roles and groups, keeping parameters', () => {
    const r = rules({
      allow: [{ credentials: KEY_A, user_id: 'u', groups: ['admins'], roles: 'reader', capabilities: { write: { identity: 'u' } } }],
      groups: { admins: ['writer'] },
      roles: { reader: ['read'], writer: ['write', 'delete'] },
    });
    expect(r.capabilitiesByUser().get('u')).toEqual({ write: { identity: 'u' }, read: null, delete: null });
  });

  it('refuses bad entries with the field and an actionable message', () => {
    const bad = AuthFileSchema.safeParse({ allow: [{ credentials: 'short' }], deny: [{ mechanism: 'PLAIN' }] });
    expect(bad.success).toBe(false);
    const text = bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    expect(text).toContain('allow.0.credentials: a CURVE credential is a 43-character base64url public key');
    expect(text).toContain('deny.0.credentials: credentials are required for mechanism PLAIN');
    expect(AuthFileSchema.safeParse({ allow: [{ credentials: '/(/' }] }).success).toBe(false);
    expect(AuthFileSchema.safeParse({ version: { major: 2, minor: 0 } }).success).toBe(false);
  });

  it('reads comments and reports the path of a broken file', () => {
    expect(stripJsonComments('{"a": "x # not a comment"} # comment\n// more')).toBe('{"a": "x # not a comment"} \n');
    expect(() => parseJsonText('/h/auth.json', '{"allow": [', AuthFileSchema, { what: 'auth file' })).toThrow(ConfigError);
    expect(() => parseJsonText('/h/auth.json', '{"allow": 3}', AuthFileSchema, { what: 'auth file' })).toThrow(
      /\/h\/auth.json is invalid: allow/,
    );
  });
});

describe('Authenticator', () => {
  it('denies first, then allows, exact credentials before regex ones, disabled entries skipped', () => {
    const auth = new Authenticator(
      rules({
        allow: [
          { credentials: '/.*/', user_id: 'anyone', address: '10.0.0.1' },
          { credentials: KEY_A, user_id: 'a-off', enabled: false },
          { credentials: KEY_A, user_id: 'a' },
          { credentials: KEY_B, user_id: 'b' },
        ],
        deny: [{ credentials: KEY_B, address: '/10\\.0\\..*/' }],
      }),
      { trustSameUidIpc: false },
    );
    expect(auth.authenticate(curve(KEY_A, '10.0.0.1'))).toMatchObject({ admit: true, userId: 'a' });
    expect(auth.authenticate(curve('C'.repeat(43), '10.0.0.1'))).toMatchObject({ admit: true, userId: 'anyone' });
    expect(auth.authenticate(curve('C'.repeat(43), '10.0.0.2'))).toEqual({ admit: false, reason: 'unknown' });
    expect(auth.authenticate(curve(KEY_B, '127.0.0.1'))).toMatchObject({ admit: true, userId: 'b' });
    expect(auth.authenticate(curve(KEY_B, '10.0.0.9'))).toMatchObject({ admit: false, reason: 'denied' });
  });

  it('matches mechanism and domain; NULL over same-uid ipc is trusted unless disabled', () => {
    const r = rules({ allow: [{ mechanism: 'NULL', domain: 'other', user_id: 'n' }] });
    const uid = 1234;
    const ipc = { domain: 'vip', address: `localhost:${uid}:${uid}:99`, mechanism: 'NULL' as const, credential: '' };
    expect(new Authenticator(r, { uid }).authenticate({ ...ipc, domain: 'other' })).toMatchObject({ admit: true, userId: 'n' });
    expect(new Authenticator(r, { uid }).authenticate(ipc)).toMatchObject({
      admit: true,
      userId: composeUserId('vip', ipc.address, 'NULL'),
    });
    expect(new Authenticator(r, { uid: 1 }).authenticate(ipc)).toEqual({ admit: false, reason: 'unknown' });
    expect(new Authenticator(r, { uid, trustSameUidIpc: false }).authenticate(ipc).admit).toBe(false);
  });

  it('composes user ids as VOLTTRON dump_user does', () => {
    expect(composeUserId('vip', 'a,b', 'CURVE', 'x\\y')).toBe('vip,a\\,b,CURVE,x\\\\y');
  });
});

describe('RefusalDelays', () => {
  it('starts random, doubles per address, caps, forgets a quiet address, stays bounded', () => {
    const d = new RefusalDelays({ firstMaxMs: 100, maxDelayMs: 350, forgetAfterMs: 1_000, maxAddresses: 2, random: () => 0.5 });
    const seen = [0, 1, 2, 3, 4].map((i) => d.next('a', i));
    expect(seen).toEqual([50, 100, 200, 350, 350]);
    expect(d.next('b', 10)).toBe(50);
    expect(d.next('a', 5_000)).toBe(50); // quiet for longer than forgetAfterMs
    d.next('c', 5_001);
    expect(d.size).toBe(2);
  });
});

describe('VOLTTRON 9 auth.json', () => {
  it('reads entries as the VOLTTRON platform writes them', () => {
    const platformKey = 'FSG7LHhy3v8tdNz3gK35G6-oxUcyln54pYRKu5fBJzU';
    const r = rules({
      allow: [
        {
          domain: null,
          address: null,
          mechanism: 'CURVE',
          credentials: platformKey,
          user_id: 'platform',
          identity: 'platform',
          groups: [],
          roles: [],
          capabilities: { edit_config_store: { identity: '/.*/' } },
          rpc_method_authorizations: {},
          comments: 'Automatically added by platform on start',
          enabled: true,
        },
        { credentials: '/.*/', user_id: 'listener', identity: 'listener', capabilities: { edit_config_store: { identity: 'listener' } } },
      ],
      deny: [],
      groups: {},
      roles: {},
      version: { major: 1, minor: 4 },
    });
    const auth = new Authenticator(r, { trustSameUidIpc: false });
    expect(auth.authenticate(curve(platformKey))).toMatchObject({ admit: true, userId: 'platform', identity: 'platform' });
    expect(auth.authenticate(curve('Z'.repeat(43)))).toMatchObject({ admit: true, userId: 'listener' });
    expect(r.capabilitiesByUser().get('platform')).toEqual({ edit_config_store: { identity: '/.*/' } });
  });
});
