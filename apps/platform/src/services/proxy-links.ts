import {
  EXTERNAL_RPC_FRAME,
  SEND_PLATFORM_FRAME,
  EMPTY_FRAME,
  ERRNO,
  frameText,
  identityKey,
  parseExternalRpcPayload,
  textFrame,
  type DeliveryResult,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';
import type { ProxyPlatformLinks } from '@vip/proxy-router';
import type { PlatformLinkTable } from '@vip/router';

const ROUTING_TABLE = textFrame('routing_table');
const HELLO = textFrame('hello');
const WELCOME = textFrame('welcome');

/** Writes on the proxy router's ROUTER to a link's routing id (ZmqProxyRouter.deliverToZmq). */
export type ProxyRouterDeliver = (to: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]) => Promise<DeliveryResult>;

/**
 * A RabbitMQ platform's side of multi-platform (docs/protocol.md 6.5, "ZeroMQ platforms through
 * the proxy"): remote ZeroMQ platforms' links arrive at the proxy router's ROUTER, proven by
 * their platform key (ZAP `admitLinks`, the user `platform.link/<instance>`). The platform's
 * PlatformLinkTable gets, per linked platform, an OutgoingPlatformLink that writes back on that
 * ROUTER to the link's routing id, and the link's state (CONNECTED from its first message, down
 * when its connection closes); what the link sends is handed to the table (`arrived`), so the
 * routing_table and external_rpc extensions of the ZeroMQ platform serve it unchanged.
 */
export function proxyPlatformLinks(table: PlatformLinkTable, deliver: ProxyRouterDeliver): ProxyPlatformLinks {
  /** The routing id each linked platform's connection has on the ROUTER now. */
  const peerOf = new Map<string, Frame>();
  const instanceOfPeer = new Map<string, string>();
  const withoutInstance = withoutInstanceOf(table.instanceName);
  return {
    isLink: (userId) => table.has(userId),
    fromLink(userId, m) {
      const instance = table.instanceOf(userId);
      if (instance === undefined) return;
      const known = peerOf.get(instance);
      if (known === undefined || !known.equals(m.sender)) {
        const peer = m.sender;
        if (known !== undefined) instanceOfPeer.delete(identityKey(known));
        peerOf.set(instance, peer);
        instanceOfPeer.set(identityKey(peer), instance);
        table.setLink(instance, {
          send: (user, id, subsystem, args, onFailed) => {
            void deliver(peer, withoutInstance(user), id, subsystem, args).then((r) => {
              if (r !== 'ok') onFailed?.();
            });
            return true;
          },
          close: () => Promise.resolve(),
        });
        table.linkState(instance, 'CONNECTED');
      }
      if (m.recipient.length > 0) return; // a link speaks to this platform's router only: nothing is relayed
      const subsystem = frameText(m.subsystem);
      if (subsystem === 'routing_table' && m.args[0] !== undefined && frameText(m.args[0]) === 'hello') {
        const kind = m.args[1] === undefined ? '' : frameText(m.args[1]);
        if (kind === 'hello') void deliver(m.sender, EMPTY_FRAME, m.id, ROUTING_TABLE, [HELLO, WELCOME, textFrame(table.instanceName)]);
        else if (kind === 'welcome') table.welcomed(instance);
        return;
      }
      table.arrived(instance, { peer: EMPTY_FRAME, user: m.user, id: m.id, subsystem: m.subsystem, args: m.args });
    },
    gone(peer) {
      const instance = instanceOfPeer.get(identityKey(peer));
      if (instance === undefined) return;
      instanceOfPeer.delete(identityKey(peer));
      peerOf.delete(instance);
      table.linkState(instance, 'DISCONNECTED');
    },
  };
}

/** Whether `m` is an `external_rpc send_platform` to a platform other than `instance`. */
function toOtherPlatform(m: RoutedMessage, instance: string): boolean {
  if (!m.subsystem.equals(EXTERNAL_RPC_FRAME) || m.args[0]?.equals(SEND_PLATFORM_FRAME) !== true) return false;
  const payload = parseExternalRpcPayload(m.args[1] ?? EMPTY_FRAME);
  return !(payload instanceof Error) && payload.to_platform !== instance;
}

/** `<instance>.<platform>.<user>`: a remote caller's user as RMQ callees read users (they drop the first part). */
export function underInstance(instance: string): (platform: string, user: Frame) => Frame {
  return (platform, user) => textFrame(`${instance}.${platform}.${frameText(user)}`);
}

/**
 * A user frame of this platform written on a link: RMQ users are `<instance>.<user>`, a ZeroMQ
 * platform qualifies what it gets by the linked instance itself, so the prefix goes.
 */
function withoutInstanceOf(instance: string): (user: Frame) => Frame {
  const prefix = `${instance}.`;
  return (user) => {
    const text = frameText(user);
    return text.startsWith(prefix) ? textFrame(text.slice(prefix.length)) : user;
  };
}

/**
 * The routing_table / external_rpc extensions on the RabbitMQ router: nothing that reaches it over
 * the broker is a platform link (links are proven by CURVE on the proxy's ROUTER only, and a shared
 * broker login proves no user at all), so every sender is heard as a local one: `send_peer` or
 * `hello` written by an agent is refused as on ZeroMQ.
 */
export function brokerSendersAreNotLinks(extension: RouterExtension, instanceName: string): RouterExtension {
  let services: RouterServices | undefined;
  return {
    subsystems: extension.subsystems,
    ...(extension.name !== undefined ? { name: extension.name } : {}),
    attach: (s) => {
      services = s;
      extension.attach(s);
    },
    handle: (m, userId, user) => {
      // an unproven sender (proof required, none given) calls no other platform: the link would name
      // it by the identity it claimed (the caller a remote callee believes)
      if (userId === '' && services && toOtherPlatform(m, instanceName)) {
        services.count('external_rpc: send_platform from an unproven sender refused');
        services.replyError(
          m,
          EMPTY_FRAME,
          ERRNO.EACCES,
          'Permission denied: a sender the broker did not prove may not call other platforms',
        );
        return true;
      }
      // an unproven sender is named by no user at all: the router would otherwise write its claimed
      // identity, which RMQ callees believe on external_rpc
      return extension.handle(m, '', userId === '' ? EMPTY_FRAME : user);
    },
    ...(extension.stats ? { stats: () => (extension.stats as () => Record<string, number>)() } : {}),
    ...(extension.close ? { close: () => (extension.close as () => Promise<void>)() } : {}),
  };
}
