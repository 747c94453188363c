import { afterEach, describe, expect, it } from 'vitest';
import { Agent, onPlatform } from '@vip/agent';
import { decodePeerFrames, frameText, generateKeyPair, textFrame, type Frame, type VipMessage } from '@vip/protocol';
import { PubSubService } from '@vip/pubsub';
import {
  ExternalRpcExtension,
  externalPubSubLinks,
  linkUserOf,
  PlatformLinkTable,
  Router,
  RoutingTableExtension,
  type OutgoingPlatformLink,
} from '@vip/router';
import { loadTranscript, MemoryTransport, waitFor } from '@vip/testing';

/**
 * The capture of a VOLTTRON 9 platform's link (refC's DEALER to platform refD's router,
 * `link_platform_to_platform.json`) replayed into a vip router playing refD: what refC sends is
 * understood (hello, external_list, external RPC send_peer, external_publish), and vip answers as
 * VOLTTRON means to (welcome) instead of as it does (no welcome; peerlist and auth.update to the link).
 */
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('a VOLTTRON 9 link (captured) into a vip router', () => {
  it('is answered: welcome, request_response True, send_peer and external_publish delivered; never told of peers', async () => {
    const capture = await loadTranscript('link_platform_to_platform');
    const table = new PlatformLinkTable({ instanceName: 'refD' });
    table.addPlatform('refC', { serverKey: generateKeyPair().public, vipAddress: 'tcp://127.0.0.1:1' });
    const transport = new MemoryTransport({ requiresProof: true });
    const router = new Router({
      identity: 'router',
      transport,
      platformLinks: table,
      instanceName: 'refD',
      extensions: [
        new RoutingTableExtension(table),
        new ExternalRpcExtension(table),
        new PubSubService({ externalPlatforms: externalPubSubLinks(table) }),
      ],
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
    const remote = await open('cap.remote', 'cap.remote');
    await remote.conn.send({
      peer: Buffer.alloc(0),
      user: Buffer.alloc(0),
      id: textFrame('s'),
      subsystem: textFrame('pubsub'),
      args: [textFrame('subscribe'), textFrame('{"prefix": "ext/", "bus": "", "all_platforms": false}')],
    });
    const link = await open('instance.refD.0.16527274973969575', linkUserOf('refC'));
    const sent = capture.exchanges.filter((e) => e.direction === 'agent->router');
    for (const e of sent) {
      const m = decodePeerFrames(e.frames as Frame[]);
      await link.conn.send({ peer: m.peer, user: m.user, id: m.id, subsystem: m.subsystem, args: m.args });
    }
    await router.poll();
    const at = (got: readonly VipMessage[], subsystem: string) => got.filter((m) => frameText(m.subsystem) === subsystem);
    await waitFor(
      () =>
        at(remote.got, 'external_rpc').length === 2 && at(remote.got, 'pubsub').some((m) => frameText(m.args[0] as Frame) === 'publish'),
      { what: 'deliveries to cap.remote' },
    );

    // hello -> welcome with our instance name (VOLTTRON 9 never answers it)
    expect(at(link.got, 'routing_table').map((m) => m.args.map(frameText))).toEqual([['hello', 'welcome', 'refD']]);
    // each external_list -> request_response True, as VOLTTRON
    const lists = sent.filter((e) => frameText(e.frames[5] as Frame) === 'external_list').length;
    const answers = at(link.got, 'pubsub').filter((m) => frameText(m.args[0] as Frame) === 'request_response');
    expect(answers).toHaveLength(lists);
    expect(answers.every((m) => (m.args[1] as Frame).equals(Buffer.from([1])))).toBe(true);
    // nothing else reaches the link: no peerlist events, no auth.update (VOLTTRON 9 sends both)
    expect(link.got.filter((m) => !['routing_table', 'pubsub'].includes(frameText(m.subsystem)))).toEqual([]);
    // the external calls reach the callee from the router, naming refC and cap.caller
    for (const m of at(remote.got, 'external_rpc')) {
      expect(frameText(m.peer)).toBe('');
      expect(JSON.parse(frameText(m.args[1] as Frame))).toMatchObject({
        to_platform: 'refD',
        to_peer: 'cap.remote',
        from_platform: 'refC',
        from_peer: 'cap.caller',
      });
    }
    // the external publishes are delivered to the local subscriber of ext/
    const published = at(remote.got, 'pubsub')
      .filter((m) => frameText(m.args[0] as Frame) === 'publish')
      .map((m) => frameText(m.args[1] as Frame));
    expect(published).toEqual(['ext/x', 'ext/y']);
  });
});

describe("a vip agent and router against a VOLTTRON 9 platform's answers (captured)", () => {
  it("sends what VOLTTRON's caller sends, and resolves with the answer refB gave (multi_a_external_rpc)", async () => {
    const capture = await loadTranscript('multi_a_external_rpc');
    const frames = capture.exchanges
      .map((e) => ({ direction: e.direction, m: decodePeerFrames(e.frames as Frame[]) }))
      .filter((x) => frameText(x.m.subsystem) === 'external_rpc');
    const theirCall = JSON.parse(frameText(frames.find((x) => x.direction === 'agent->router')!.m.args[1] as Frame)) as Record<
      string,
      unknown
    >;
    const theirAnswer = frames.find((x) => x.direction === 'router->agent')!.m;

    const table = new PlatformLinkTable({ instanceName: 'refA' });
    table.addPlatform('refB', { serverKey: generateKeyPair().public, vipAddress: 'tcp://127.0.0.1:1' });
    const onLink: VipMessage[] = [];
    const link: OutgoingPlatformLink = {
      send: (user, id, subsystem, args) => (onLink.push({ peer: Buffer.alloc(0), user, id, subsystem, args }), true),
      close: () => Promise.resolve(),
    };
    table.setLink('refB', link);
    table.linkState('refB', 'CONNECTED');
    const transport = new MemoryTransport({ requiresProof: true });
    const router = new Router({
      identity: 'router',
      transport,
      platformLinks: table,
      instanceName: 'refA',
      extensions: [new RoutingTableExtension(table), new ExternalRpcExtension(table)],
    });
    await router.start();
    const caller = new Agent({
      identity: 'cap.caller',
      connection: transport.connection('cap.caller', { userId: 'cap.caller' }),
      pubsub: false,
    });
    stop = async () => {
      await caller.close();
      await router.stop();
    };
    await caller.start();
    const result = caller.rpc.call('cap.remote', 'echo', 'hi', onPlatform('refB'));
    await waitFor(() => onLink.some((m) => frameText(m.subsystem) === 'external_rpc'), { what: 'the call on the link' });
    const sent = onLink.find((m) => frameText(m.subsystem) === 'external_rpc')!;
    const ours = JSON.parse(frameText(sent.args[1] as Frame)) as { args: string[] } & Record<string, unknown>;
    // what goes on the link is VOLTTRON's send_peer: same keys in the same order, our names filled in
    expect(frameText(sent.args[0] as Frame)).toBe('send_peer');
    expect(Object.keys(ours)).toEqual(Object.keys(theirCall));
    expect(ours).toMatchObject({ to_platform: 'refB', to_peer: 'cap.remote', from_platform: 'refA', from_peer: 'cap.caller' });
    const request = JSON.parse(ours.args[0] as string) as { id: string };
    // refB's captured answer, addressed to our call's id, coming back on its link
    const answerPayload = JSON.parse(frameText(theirAnswer.args[1] as Frame)) as { args: string[] };
    const answered = JSON.parse(answerPayload.args[0] as string) as { id: string; result: unknown };
    const back = JSON.stringify({ ...answerPayload, args: [JSON.stringify({ ...answered, id: request.id })] });
    const refB = transport.connection('instance.refA.0.1', { userId: linkUserOf('refB') });
    await refB.open();
    await refB.send({
      peer: Buffer.alloc(0),
      user: theirAnswer.user,
      id: theirAnswer.id,
      subsystem: textFrame('external_rpc'),
      args: [textFrame('send_peer'), textFrame(back)],
    });
    expect(await result).toEqual(answered.result);
  });
});
