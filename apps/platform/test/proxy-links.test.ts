import { describe, expect, it } from 'vitest';
import { EMPTY_FRAME, pythonJson, textFrame, type RoutedMessage } from '@vip/protocol';
import { ExternalRpcExtension, linkUserOf, PlatformLinkTable } from '@vip/router';
import { MemoryRouterServices } from '@vip/testing';
import { brokerSendersAreNotLinks } from '../src/services/proxy-links.js';

/** A `send_peer` for `rmq.agent` as platform `plz` would write it. */
function sendPeer(): RoutedMessage {
  const payload = {
    to_platform: 'plr',
    to_peer: 'rmq.agent',
    from_platform: 'plz',
    from_peer: 'zmq.agent',
    args: ['{"jsonrpc":"2.0","method":"m","id":"1"}'],
  };
  return {
    sender: textFrame('squatter'),
    recipient: EMPTY_FRAME,
    user: textFrame(linkUserOf('plz')),
    id: textFrame('x1'),
    subsystem: textFrame('external_rpc'),
    args: [textFrame('send_peer'), textFrame(pythonJson(payload))],
  };
}

/** A local sender's `send_platform` to `to_peer` on `to_platform`, as it reaches the router. */
function sendPlatform(sender: string, id: string, to_platform: string, to_peer: string): RoutedMessage {
  const payload = { to_platform, to_peer, from_platform: '', from_peer: '', args: ['{"jsonrpc":"2.0","method":"m","id":"1"}'] };
  return {
    sender: textFrame(sender),
    recipient: EMPTY_FRAME,
    user: EMPTY_FRAME,
    id: textFrame(id),
    subsystem: textFrame('external_rpc'),
    args: [textFrame('send_platform'), textFrame(pythonJson(payload))],
  };
}

describe('external_rpc on a RabbitMQ router: links come through the proxy only', () => {
  it("a broker sender whose user is a link's user is refused (EACCES), nothing reaches the callee", () => {
    const table = new PlatformLinkTable({ instanceName: 'plr' });
    table.addPlatform('plz');
    const services = new MemoryRouterServices(brokerSendersAreNotLinks(new ExternalRpcExtension(table), 'plr'));
    // the user a shared broker login lets a publisher write (nothing proven): the link's
    expect(services.service.handle(sendPeer(), linkUserOf('plz'), textFrame(linkUserOf('plz')))).toBe(true);
    expect(services.delivered.map((d) => [d.to, d.subsystem, d.args[0]?.toString()])).toEqual([['squatter', 'error', '13']]);
  });

  it('(the same extension unwrapped, as on ZeroMQ where the user is CURVE-proven, delivers it)', () => {
    const table = new PlatformLinkTable({ instanceName: 'plr' });
    table.addPlatform('plz');
    const services = new MemoryRouterServices(new ExternalRpcExtension(table));
    services.service.handle(sendPeer(), linkUserOf('plz'), textFrame(linkUserOf('plz')));
    expect(services.delivered.map((d) => [d.to, d.subsystem])).toEqual([['rmq.agent', 'external_rpc']]);
  });

  it('an unproven broker sender calling on this platform by name is handed over with no user (not the identity it claims)', () => {
    const table = new PlatformLinkTable({ instanceName: 'plr' });
    const services = new MemoryRouterServices(brokerSendersAreNotLinks(new ExternalRpcExtension(table), 'plr'));
    const m = sendPlatform('alice', 'x2', 'plr', 'victim');
    // the router's user frame for an unproven sender is its identity; userId '' says nothing was proven
    services.service.handle(m, '', textFrame('alice'));
    expect(services.delivered.map((d) => [d.to, d.user])).toEqual([['victim', '']]);
  });

  it('an unproven broker sender calling another platform is refused (EACCES): the link would name the identity it claims (impersonation)', () => {
    const table = new PlatformLinkTable({ instanceName: 'plr' });
    table.addPlatform('plz');
    const sent: string[] = [];
    table.setLink('plz', { send: (_u, _i, _s, args) => (sent.push(String(args[1])), true), close: () => Promise.resolve() });
    table.linkState('plz', 'CONNECTED');
    const services = new MemoryRouterServices(brokerSendersAreNotLinks(new ExternalRpcExtension(table), 'plr'));
    const m = sendPlatform('victim', 'x3', 'plz', 'zmq.agent');
    services.service.handle(m, '', textFrame('victim'));
    expect(services.delivered.map((d) => [d.to, d.subsystem, d.args[0]?.toString()])).toEqual([['victim', 'error', '13']]);
    expect(sent).toEqual([]);
    // the same call from a proven sender goes over the link, naming it
    services.service.handle(m, 'plr.victim', textFrame('plr.victim'));
    expect(sent.map((a) => JSON.parse(a).from_peer)).toEqual(['victim']);
  });
});
