import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Context, Dealer, Router, curveKeyPair } from 'zeromq';
import { encodeKey } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import {
  AuthFile,
  AuthFileSchema,
  AuthFileWatcher,
  authFilePaths,
  Authenticator,
  AuthRules,
  PendingAuthStore,
  type RefusalDelayOptions,
} from '@vip/auth';
import { ZapHandler } from '../src/auth/zap-handler.js';
import type { ZapRefusal } from '../src/auth/zap-handler.js';
import type { PendingAdmission, ZapAdmission } from '../src/zap-contract.js';

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
  sink: (pending: PendingAdmission) => void = (pending) => void pending.answer(() => true),
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
      admit: (pending) => {
        admissions.push(pending.admission);
        sink(pending);
      },
    },
    pending,
    context,
    refusalDelay,
    onRefusal: (r) => refusals.push(r),
  });
  await zap.start();
  const server = curveKeyPair();
  const router = new Router({
    context,
    curveServer: true,
    curveSecretKey: server.secretKey,
    zapDomain: 'vip',
    zapEnforceDomain: true,
    linger: 0,
  });
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
  const dealer = new Dealer({
    curveServerKey: p.serverKey,
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
    linger: 0,
    receiveTimeout: 10_000,
  });
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
      {
        userId: 'agent-a',
        mechanism: 'CURVE',
        credential,
        address: '127.0.0.1',
        domain: 'vip',
        identity: 'a',
        capabilities: { cap1: null },
      },
    ]);
    expect(p.zap.stats()).toMatchObject({ admitted: 1, refused: 0, malformed: 0 });
  });

  it('(b) refuses an unknown key and records it as pending', async () => {
    const p = await startPlatform({ allow: [] });
    const client = connectClient(p);
    await client.dealer.send('sneak');
    expect(await withDeadline(client.authFailed, 5_000, 'handshake:error:auth')).toBe(true);
    const entry = await waitFor(async () => (await p.pending.list()).find((e) => e.credentials === client.credential), {
      timeoutMs: 5_000,
    });
    expect(entry).toMatchObject({ domain: 'vip', address: '127.0.0.1', mechanism: 'CURVE' });
    expect(entry.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.refusals[0]).toMatchObject({ reason: 'unknown', credential: client.credential });
    expect(p.received).toEqual([]);
    expect(p.admissions).toEqual([]);
  });

  it('(c) a deny entry refuses a key an allow entry would admit', async () => {
    const keys = curveKeyPair();
    const credential = encodeKey(keys.publicKey);
    const p = await startPlatform({
      allow: [{ credentials: credential, user_id: 'x' }],
      deny: [{ credentials: credential, address: '/127\\..*/' }],
    });
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

  it('answers an admission when the sink says so, decided again then, without holding up refusals or other admissions', async () => {
    const [k1, k2] = [curveKeyPair(), curveKeyPair()];
    const held: PendingAdmission[] = [];
    const p = await startPlatform(
      {
        allow: [
          { credentials: encodeKey(k1.publicKey), user_id: 'one' },
          { credentials: encodeKey(k2.publicKey), user_id: 'two' },
        ],
      },
      { firstMaxMs: 20, maxDelayMs: 200 },
      (pending) => (pending.admission.userId === 'one' ? held.push(pending) : void pending.answer(() => true)),
    );
    const c1 = connectClient(p, k1);
    await waitFor(() => held.length === 1, { what: 'first admission held by the sink' });
    expect(p.zap.stats()).toMatchObject({ admitted: 0, awaitingAnswer: 1 });
    const stranger = connectClient(p);
    expect(await withDeadline(stranger.authFailed, 5_000, 'refusal while an admission is held')).toBe(true);
    const c2 = connectClient(p, k2);
    expect(await exchange(c2, 'y')).toBe('echo:y');
    expect(p.zap.stats()).toMatchObject({ admitted: 1, awaitingAnswer: 1, refused: 1 });
    let recorded: ZapAdmission | undefined;
    expect(await held[0]?.answer((a) => ((recorded = a), true))).toBe('sent');
    expect(recorded).toMatchObject({ userId: 'one' });
    expect(await exchange(c1, 'x')).toBe('echo:x');
    expect(await held[0]?.answer(() => true)).toBe('answered');
  });

  it('an admission the rules no longer allow is refused when answered; one the sink declines gets a 300', async () => {
    const [k1, k2] = [curveKeyPair(), curveKeyPair()];
    const held: PendingAdmission[] = [];
    const p = await startPlatform(
      {
        allow: [
          { credentials: encodeKey(k1.publicKey), user_id: 'gone-later' },
          { credentials: encodeKey(k2.publicKey), user_id: 'declined' },
        ],
      },
      { firstMaxMs: 20, maxDelayMs: 200 },
      (pending) => void held.push(pending),
    );
    const c1 = connectClient(p, k1);
    const c2 = connectClient(p, k2);
    await waitFor(() => held.length === 2, { what: 'both held' });
    await p.authFile.remove({ userId: 'gone-later' });
    await waitFor(() => !p.watcher.rules.allow.some((e) => e.entry.user_id === 'gone-later'), {
      timeoutMs: 5_000,
      what: 'auth.json reload',
    });
    const first = held.find((h) => h.admission.userId === 'gone-later');
    const second = held.find((h) => h.admission.userId === 'declined');
    expect(await first?.answer(() => true)).toBe('refused');
    expect(await second?.answer(() => false)).toBe('declined');
    expect(await withDeadline(c1.authFailed, 5_000, 'the refused handshake failed')).toBe(true);
    // A 300 sends no ERROR (CURVE RFC): libzmq drops the connection at its handshake timeout
    // (30 s) and the client then tries again; nothing was admitted.
    expect(p.zap.stats()).toMatchObject({ admitted: 0, refused: 1, declined: 1, awaitingAnswer: 0 });
    expect(c2.credential).toBe(encodeKey(k2.publicKey));
  });

  it('an admission whose connection went away is answered `gone`, not admitted', async () => {
    const keys = curveKeyPair();
    const held: PendingAdmission[] = [];
    const p = await startPlatform(
      { allow: [{ credentials: encodeKey(keys.publicKey), user_id: 'left' }] },
      undefined,
      (pending) => void held.push(pending),
    );
    const c = connectClient(p, keys);
    await waitFor(() => held.length === 1, { what: 'admission held' });
    c.dealer.close();
    const answer = await waitFor(
      async () => {
        // The ZAP socket learns of the dead connection shortly after it closes.
        const again = held.at(-1);
        if (again === undefined) return undefined;
        return again.answer(() => true);
      },
      { what: 'answer' },
    );
    expect(['gone', 'sent']).toContain(answer);
  });

  it('an admission the sink never answers holds up nobody, and close is prompt', async () => {
    const [stuck, fine] = [curveKeyPair(), curveKeyPair()];
    const p = await startPlatform(
      {
        allow: [
          { credentials: encodeKey(stuck.publicKey), user_id: 'stuck' },
          { credentials: encodeKey(fine.publicKey), user_id: 'fine' },
        ],
      },
      undefined,
      (pending) => (pending.admission.userId === 'stuck' ? undefined : void pending.answer(() => true)),
    );
    connectClient(p, stuck);
    connectClient(p, stuck);
    await waitFor(() => p.zap.stats().awaitingAnswer === 2, { what: 'two admissions never answered' });
    expect(await exchange(connectClient(p, fine), 'ok')).toBe('echo:ok');
    await withDeadline(p.zap.close(), 2_000, 'close with admissions never answered');
  });
});
