// The outside review's admission hijack (issue 10, item 1) against a real platform process:
// an admitted attacker with no capabilities sends lone empty frames (the shape of a
// ZMQ_ROUTER_NOTIFY disconnect + reconnect) just before a victim allowed to publish on a
// protected topic connects. The victim must be welcomed as itself, and the attacker's publish on
// the protected topic must still be refused (or dropped) and reach nobody.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generateKeyPair, type CurveKeyPair } from '@vip/protocol';
import { openRawClient, RawVipClient, routerStats, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';

type Frames = Buffer[];
const text = (f: Frames): string[] => f.map((x) => x.toString('latin1'));
const publish = (topic: string) => ['publish', topic, '{"bus": "", "headers": {}, "message": 1}'];

let platform: PlatformProcess;
let n = 0;

beforeAll(async () => {
  platform = await startPlatform({ logLevel: 'info', instanceName: 'hijack' });
  const loaded = platform.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
  await writeFile(
    join(platform.home, 'protected_topics.json'),
    JSON.stringify({ 'write-protect': [{ topic: 'secure/', capabilities: ['can_publish_secure'] }] }),
  );
  await loaded;
});
afterAll(async () => {
  await platform?.close();
});

function raw(identity: string, keys: CurveKeyPair): RawVipClient {
  const c = RawVipClient.connect({ address: platform.tcpAddress, identity, serverKey: platform.serverkey, keys });
  onTestFinished(() => c.close());
  return c;
}

describe('admission hijack against the platform (fails on the pairing-with-the-next-connect router)', () => {
  for (const victimPinned of [false, true]) {
    it(`${victimPinned ? 'pinned' : 'unpinned'} victim: welcomed as itself; the attacker stays without the capability`, async () => {
      const tag = `${++n}`;
      const attackerKeys = generateKeyPair();
      const victimKeys = generateKeyPair();
      const victimId = `victim.${tag}`;
      await platform.authorize(attackerKeys.public, { userId: `attacker.${tag}` });
      await platform.authorize(victimKeys.public, {
        userId: `victim-user.${tag}`,
        capabilities: ['can_publish_secure'],
        ...(victimPinned ? { identity: victimId } : {}),
      });
      const watcher = await openRawClient(platform, `watch.${tag}`);
      onTestFinished(() => watcher.close());
      expect(
        (await watcher.request('pubsub', ['subscribe', '{"prefix": "secure/", "bus": "", "all_platforms": false}'], 's'))[6]?.toString(
          'hex',
        ),
      ).toBe('01');

      const attacker = raw(`attacker.agent.${tag}`, attackerKeys);
      expect(text(await attacker.hello({ timeoutMs: 10_000 }))[2]).toBe(`attacker.${tag}`);
      const before = (await routerStats(watcher)).transport;
      await attacker.send(['']);
      await attacker.send(['']);
      await waitFor(async () => ((await routerStats(watcher)).transport['received'] as number) >= (before['received'] as number) + 2, {
        what: 'the empty frames read',
      });

      const victim = raw(victimId, victimKeys);
      await attacker.send(['']);
      expect(text(await victim.hello({ timeoutMs: 10_000 }))[2]).toBe(`victim-user.${tag}`);

      // The attacker tries the protected action: refused (-32001) if it still has its own user,
      // not routed at all if the router no longer gives its connection a user; never delivered.
      await attacker.sendVip('', 'pubsub', publish('secure/stolen'), { id: 'steal' });
      const refused = await attacker.receiveMatching((f) => f[3]?.toString() === 'steal', { timeoutMs: 2_000 }).then(text, () => undefined);
      if (refused !== undefined) expect(refused.slice(4, 6)).toEqual(['error', '-32001']);
      // The victim may: the watcher gets its publish and nothing from the attacker.
      expect((await victim.request('pubsub', publish('secure/ok'), 'ok'))[6]?.toString('hex')).toBe('01000000');
      const got = text(await watcher.receiveMatching((f) => f[4]?.toString() === 'pubsub' && f[5]?.toString() === 'publish'));
      expect(got).toContain('secure/ok');
      expect(
        watcher.inbox
          .drain()
          .map(text)
          .filter((f) => f.includes('secure/stolen')),
      ).toEqual([]);
    });
  }
});
