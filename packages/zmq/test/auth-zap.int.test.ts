import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Context, Dealer, Router, curveKeyPair } from 'zeromq';
import { encodeKey } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { AuthFile, AuthFileSchema, AuthFileWatcher, authFilePaths, Authenticator, AuthRules, PendingAuthStore, type RefusalDelayOptions } from '@vip/auth';
import { ZapHandler } from '../src/auth/zap-handler.js';
import type { ZapRefusal } from '../src/auth/zap-handler.js';
import type { ZapAdmission } from '../src/zap-contract.js';

/**
 * The ZapHandler in front of a real CURVE ROUTER on tcp://127.0.0.1 (zapDomain 'vip',
 * zapEnforceDomain), with real CURVE DEALERs as clients and auth.json in a temp VIP_HOME.
 */

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Platform {
  readonly home: string;
  readonly context: Context;
  readonly endpoint: string;
  readonly serverKey: string;
  readonly authFile: AuthFile;
  readonly pending: PendingAuthStore;
  readonly watcher: AuthFileWatcher;
  readonly zap: ZapHandler;
  readonly admissions: ZapAdmission[];
  readonly refusals: ZapRefusal[];
  /** Payloads (first frame after the routing id) the router received. */
  readonly received: string[];
}

async function startPlatform(
  authJson: unknown,
  refusalDelay: RefusalDelayOptions = { firstMaxMs: 20, maxDelayMs: 200 },
  sink?: (admission: ZapAdmission) => Promise<void>,
): Promise<Platform> {
  const home = await mkdtemp(join(tmpdir(), 'vip-auth-'));
  cleanups.push(() => rm(home, { recursive: true, force: true }));
  const paths = authFilePaths(home);
  if (authJson !== undefined) await writeFile(paths.authFile, JSON.stringify(authJson), { mode: 0o600 });
  const pending = new PendingAuthStore({ path: paths.pendingFile, flushDelayMs: 10 });
  const authFile = new AuthFile({ path: paths.authFile, pending });
  const watcher = new AuthFileWatcher({ authFile, pollMs: 200, debounceMs: 20 });
  await watcher.start();
  const admissions: ZapAdmission[] = [];
  const refusals: ZapRefusal[] = [];
  const context = new Context();
  const zap = new ZapHandler({
    authenticator: watcher.authenticator,
    admissionSink: {
      admitted: async (a) => {
        admissions.push(a);
        await sink?.(a);
      },
    },
    pending,
    context,
    refusalDelay,
    onRefusal: (r) => refusals.push(r),
  });
  await zap.start();
  const server = curveKeyPair();
  const router = new Router({ context, curveServer: true, curveSecretKey: server.secretKey, zapDomain: 'vip', zapEnforceDomain: true, linger: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const received: string[] = [];
  const serving = (async () => {
    try {
      for await (const [rid, payload] of router) {
        if (!rid || !payload) continue;
        received.push(payload.toString());
        await router.send([rid, `echo:${payload.toString()}`]);
      }
    } catch (err) {
      if (!router.closed) throw err;
    }
  })();
  cleanups.push(async () => {
    router.close();
    await serving;
    await zap.close();
    await watcher.close();
    await pending.close();
  });
  return {
    home,
    context,
    endpoint: router.lastEndpoint as string,
    serverKey: server.publicKey,
    authFile,
    pending,
    watcher,
    zap,
    admissions,
    refusals,
    received,
  };
}

interface Client {
  readonly dealer: Dealer;
  /** The client's public key as auth.json spells it (43-char base64url). */
  readonly credential: string;
  /** Resolves on the first `handshake:error:auth`. */
  readonly authFailed: Promise<true>;
}

function connectClient(p: Platform, keys = curveKeyPair()): Client {
  const dealer = new Dealer({ curveServerKey: p.serverKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0, receiveTimeout: 10_000 });
  const authFailed = new Promise<true>((resolve) => dealer.events.on('handshake:error:auth', () => resolve(true)));
  dealer.connect(p.endpoint);
  cleanups.push(() => dealer.close());
  return { dealer, credential: encodeKey(keys.publicKey), authFailed };
}

async function exchange(client: Client, text: string): Promise<string> {
  await client.dealer.send(text);
  const [reply] = await client.dealer.receive();
  return String(reply);
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('ZapHandler on a CURVE router', () => {
  it('(a) admits a key listed in auth.json, with its user id and capabilities', async () => {
    const keys = curveKeyPair();
    const credential = encodeKey(keys.publicKey);
    const p = await startPlatform({ allow: [{ credentials: credential, user_id: 'agent-a', identity: 'a', capabilities: ['cap1'] }] });
    const client = connectClient(p, keys);
    expect(await exchange(client, 'hi')).toBe('echo:hi');
    expect(p.admissions).toEqual([
      { userId: 'agent-a', mechanism: 'CURVE', credential, address: '127.0.0.1', domain: 'vip', identity: 'a', capabilities: { cap1: null } },
    ]);
    expect(p.zap.stats()).toMatchObject({ admitted: 1, refused: 0, malformed: 0 });
  });

  it('(b) refuses an unknown key and records it as pending', async () => {
    const p = await startPlatform({ allow: [] });
    const client = connectClient(p);
    await client.dealer.send('sneak');
    expect(await withDeadline(client.authFailed, 5_000, 'handshake:error:auth')).toBe(true);
    const entry = await waitFor(async () => (await p.pending.list()).find((e) => e.credentials === client.credential), { timeoutMs: 5_000 });
    expect(entry).toMatchObject({ domain: 'vip', address: '127.0.0.1', mechanism: 'CURVE' });
    expect(entry.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.refusals[0]).toMatchObject({ reason: 'unknown', credential: client.credential });
    expect(p.received).toEqual([]);
    expect(p.admissions).toEqual([]);
  });

  it('(c) a deny entry refuses a key an allow entry would admit', async () => {
    const keys = curveKeyPair();
    const credential = encodeKey(keys.publicKey);
    const p = await startPlatform({ allow: [{ credentials: credential, user_id: 'x' }], deny: [{ credentials: credential, address: '/127\\..*/' }] });
    const client = connectClient(p, keys);
    await client.dealer.send('sneak');
    expect(await withDeadline(client.authFailed, 5_000, 'handshake:error:auth')).toBe(true);
    expect(p.refusals[0]).toMatchObject({ reason: 'denied' });
    expect(await p.pending.list()).toEqual([]); // a denied key is decided, not pending
    expect(p.received).toEqual([]);
  });

  it('(d) a key added to auth.json is admitted without a restart', async () => {
    const keys = curveKeyPair();
    const p = await startPlatform({ allow: [] });
    const first = connectClient(p, keys);
    await withDeadline(first.authFailed, 5_000, 'first refusal');
    // libzmq does not reconnect after an authentication failure: the client tries again itself.
    await p.authFile.add({ credentials: first.credential, user_id: 'late' });
    await waitFor(() => p.watcher.rules.allow.some((e) => e.entry.user_id === 'late'), { timeoutMs: 5_000, what: 'auth.json reload' });
    const again = connectClient(p, keys);
    expect(await exchange(again, 'now')).toBe('echo:now');
    expect(p.admissions.map((a) => a.userId)).toEqual(['late']);
  });

  it('(e) refusal delays double per address up to the cap', async () => {
    const p = await startPlatform({ allow: [] }, { firstMaxMs: 40, maxDelayMs: 160, forgetAfterMs: 30_000, random: () => 0.5 });
    const clients = Array.from({ length: 5 }, () => connectClient(p));
    await withDeadline(Promise.all(clients.map((c) => c.authFailed)), 10_000, 'five refusals');
    expect(p.refusals.map((r) => r.delayMs)).toEqual([20, 40, 80, 160, 160]);
    expect(new Set(p.refusals.map((r) => r.address))).toEqual(new Set(['127.0.0.1']));
    expect(p.zap.stats()).toMatchObject({ refused: 5, admitted: 0 });
  });

  it('(f) an invalid auth.json keeps the previous rules', async () => {
    const keys = curveKeyPair();
    const credential = encodeKey(keys.publicKey);
    const p = await startPlatform({ allow: [{ credentials: credential, user_id: 'kept' }] });
    await writeFile(p.authFile.path, '{"allow": [{"credentials": "typo"', { mode: 0o600 });
    await waitFor(() => p.watcher.stats().failedReloads >= 1, { timeoutMs: 5_000, what: 'refused reload' });
    expect(p.watcher.stats().lastError).toContain(p.authFile.path);
    const client = connectClient(p, keys);
    expect(await exchange(client, 'still')).toBe('echo:still');
    expect(p.admissions.map((a) => a.userId)).toEqual(['kept']);
  });

  it('answers malformed ZAP requests, counts them and keeps serving', async () => {
    const keys = curveKeyPair();
    const p = await startPlatform({ allow: [{ credentials: encodeKey(keys.publicKey), user_id: 'ok' }] });
    // Speak to the handler directly over its inproc endpoint, in the platform's context.
    const probe = new Dealer({ context: p.context, linger: 0, receiveTimeout: 5_000 });
    cleanups.push(() => probe.close());
    probe.connect('inproc://zeromq.zap.01');
    await probe.send(['', '1.0', 'r1', 'vip']);
    expect((await probe.receive()).map(String)).toEqual(['', '1.0', 'r1', '500', 'ZAP request with missing frames', '', '']);
    await probe.send(['', '9.9', 'r2', 'vip', '127.0.0.1', '', 'NULL']);
    expect((await probe.receive()).map(String).slice(3, 4)).toEqual(['400']);
    await probe.send(['', '1.0', 'r3', 'vip', '127.0.0.1', '', 'CURVE', 'not-32-bytes']);
    expect((await probe.receive()).map(String).slice(3, 4)).toEqual(['400']);
    expect(p.zap.stats().malformed).toBe(3);
    expect(await exchange(connectClient(p, keys), 'after')).toBe('echo:after');
  });

  it('answers one admission at a time, without holding up refusals', async () => {
    const [k1, k2] = [curveKeyPair(), curveKeyPair()];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const p = await startPlatform(
      { allow: [{ credentials: encodeKey(k1.publicKey), user_id: 'one' }, { credentials: encodeKey(k2.publicKey), user_id: 'two' }] },
      { firstMaxMs: 20, maxDelayMs: 200 },
      () => (p.admissions.length === 1 ? held : Promise.resolve()),
    );
    const c1 = connectClient(p, k1);
    await waitFor(() => p.admissions.length === 1, { what: 'first admission' });
    const c2 = connectClient(p, k2);
    await waitFor(() => p.zap.stats().queuedAdmissions === 1, { what: 'second admission queued' });
    const stranger = connectClient(p);
    expect(await withDeadline(stranger.authFailed, 5_000, 'refusal while an admission is held')).toBe(true);
    expect(p.zap.stats()).toMatchObject({ admitted: 1, queuedAdmissions: 1, refused: 1 });
    release();
    await waitFor(() => p.admissions.length === 2, { what: 'second admission' });
    expect(await exchange(c1, 'x')).toBe('echo:x');
    expect(await exchange(c2, 'y')).toBe('echo:y');
  });

  it('moves on when the admission sink never settles, and closes promptly', async () => {
    const keys = curveKeyPair();
    const context = new Context();
    const authenticator = new Authenticator(
      new AuthRules(AuthFileSchema.parse({ allow: [{ credentials: encodeKey(keys.publicKey), user_id: 'stuck' }] })),
    );
    let calls = 0;
    const zap = new ZapHandler({
      authenticator,
      admissionSink: { admitted: () => new Promise<void>(() => void calls++) },
      context,
      admissionTimeoutMs: 100,
    });
    await zap.start();
    const server = curveKeyPair();
    const router = new Router({ context, curveServer: true, curveSecretKey: server.secretKey, zapDomain: 'vip', zapEnforceDomain: true, linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    cleanups.push(async () => {
      router.close();
      await withDeadline(zap.close(), 2_000, 'close with a hanging sink');
    });
    const dealers = [1, 2].map(() => {
      const d = new Dealer({ curveServerKey: server.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, linger: 0 });
      d.connect(router.lastEndpoint as string);
      cleanups.push(() => d.close());
      return d;
    });
    expect(dealers).toHaveLength(2);
    await waitFor(() => zap.stats().admitted === 2 && calls === 2, { what: 'both admitted despite the stuck sink' });
  });
});
