import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_FRAME, frameText, generateKeyPair, textFrame, VIP_SIGNATURE, type Frame, type VipMessage } from '@vip/protocol';
import { PubSubService } from '@vip/pubsub';
import { ExternalRpcExtension, externalPubSubLinks, linkUserOf, PlatformLinkTable, Router, RoutingTableExtension } from '@vip/router';
import { MemoryTransport, waitFor, type MemoryConnection } from '@vip/testing';

/**
 * Trust rule (SECURITY.md, "Links to other platforms"): routing_table, external_rpc send_peer and
 * pubsub external_publish/external_list are platform-level operations accepted only from a
 * remote platform's link, which the bus proves by the link's CURVE key (here: the user id the
 * transport reports). An ordinary agent writing the same frames, naming itself like a link, or
 * writing a link's user frame, is refused with EACCES and nothing reaches anyone.
 */
const f = (s: string): Frame => textFrame(s);
const LINK_USER = linkUserOf('there');

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function setup() {
  const table = new PlatformLinkTable({ instanceName: 'here' });
  table.addPlatform('there', { serverKey: generateKeyPair().public, vipAddress: 'tcp://127.0.0.1:1' });
  const transport = new MemoryTransport({ requiresProof: true });
  const pubsub = new PubSubService({ externalPlatforms: externalPubSubLinks(table) });
  const router = new Router({
    identity: 'router',
    transport,
    platformLinks: table,
    instanceName: 'here',
    extensions: [new RoutingTableExtension(table), new ExternalRpcExtension(table), pubsub],
  });
  await router.start();
  stop = () => router.stop();
  const open = async (identity: string, userId: string) => {
    const conn = transport.connection(identity, { userId });
    const got: VipMessage[] = [];
    conn.onMessage((m) => got.push(m));
    await conn.open();
    return { conn, got };
  };
  return { table, router, pubsub, open };
}

const send = (conn: MemoryConnection, subsystem: string, args: readonly Frame[], user: Frame = EMPTY_FRAME) =>
  conn.send({ peer: EMPTY_FRAME, user, id: f('m1'), subsystem: f(subsystem), args });

const rpcPayload = (fromPlatform: string) =>
  f(
    JSON.stringify({
      to_platform: 'here',
      to_peer: 'victim',
      from_platform: fromPlatform,
      from_peer: 'x',
      args: ['{"jsonrpc": "2.0", "id": "1", "method": "pwn"}'],
    }),
  );

const errnums = (got: readonly VipMessage[]) =>
  got.filter((m) => frameText(m.subsystem) === 'error').map((m) => frameText(m.args[0] as Frame));

describe('platform-level operations only from a proven platform link', () => {
  it("an ordinary agent (even named like a link, writing a link's user frame) is refused on every multi-platform path", async () => {
    const { router, pubsub, open } = await setup();
    const victim = await open('victim', 'victim');
    const mallory = await open('instance.here.0.5', 'mallory');
    await send(mallory.conn, 'routing_table', [f('hello'), f('hello'), f('there')], f(LINK_USER));
    await send(mallory.conn, 'routing_table', [f('normalmode_platform_connection'), f('{}')], f(LINK_USER));
    await send(mallory.conn, 'external_rpc', [f('send_peer'), rpcPayload('there')], f(LINK_USER));
    await send(
      mallory.conn,
      'pubsub',
      [f('external_publish'), f('t'), f(JSON.stringify({ sender: 'x', bus: '', headers: {}, message: 'm' }))],
      f(LINK_USER),
    );
    await send(mallory.conn, 'pubsub', [f('external_list'), f(JSON.stringify({ there: ['t'] }))], f(LINK_USER));
    await router.poll();
    await waitFor(() => mallory.got.length >= 5, { what: 'five refusals' });
    expect(errnums(mallory.got)).toEqual(['13', '13', '13', '13', '13']);
    expect(victim.got.filter((m) => frameText(m.subsystem) !== 'peerlist')).toEqual([]);
    expect(pubsub.detailedStats().remotePlatforms).toBe(0);
  });

  it("the proven link is heard: welcome answered, send_peer delivered with the link's platform, never the one it wrote", async () => {
    const { router, table, open } = await setup();
    const victim = await open('victim', 'victim');
    const watcher = await open('watcher', 'watcher');
    const link = await open('instance.here.0.7', LINK_USER);
    await send(link.conn, 'routing_table', [f('hello'), f('hello'), f('there')]);
    await send(link.conn, 'external_rpc', [f('send_peer'), rpcPayload('forged'), f('9th'), f('10th'), f('11th')], f('alice'));
    await router.poll();
    const rpc = () => victim.got.filter((m) => frameText(m.subsystem) === 'external_rpc');
    await waitFor(() => rpc().length === 1 && link.got.length === 1, { what: 'delivery and welcome' });
    expect(link.got[0]!.args.map(frameText)).toEqual(['hello', 'welcome', 'here']);
    const delivered = rpc()[0]!;
    expect(frameText(delivered.peer)).toBe('');
    expect(frameText(delivered.user)).toBe('there.alice');
    expect(JSON.parse(frameText(delivered.args[1] as Frame)).from_platform).toBe('there');
    // a link is no agent: not a peer, no peerlist event about it reached anyone
    expect(router.peers.has(f('instance.here.0.7'))).toBe(false);
    const told = [...watcher.got, ...victim.got].filter((m) => frameText(m.subsystem) === 'peerlist');
    expect(told.filter((m) => m.args.some((a) => frameText(a).startsWith('instance.')))).toEqual([]);
    expect(table.status()[0]?.incoming).toBe(true);
  });
});
