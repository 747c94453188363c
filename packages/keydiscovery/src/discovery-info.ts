import { Address, ConfigError, KeyError, encodeKey, instanceNameProblem, pythonJson } from '@vip/protocol';
import { z } from 'zod';

/**
 * What `/discovery/` says about a platform (docs/protocol.md 6.1), with the wire's dashed key
 * names turned into properties. A platform with no external tcp address publishes neither
 * `vipAddress` nor `serverKey`; RabbitMQ platforms add `rmqAddress` and `rmqCaCert`.
 */
export interface DiscoveryInfo {
  readonly instanceName: string;
  /** `tcp://host:port`, bare (no query, no fragment). */
  readonly vipAddress?: string | undefined;
  /** The platform public key, 43-character base64url. */
  readonly serverKey?: string | undefined;
  readonly rmqAddress?: string | undefined;
  readonly rmqCaCert?: string | undefined;
}

/**
 * Discovery information a ZeroMQ link can be made from: the three values VOLTTRON's
 * KeyDiscoveryAgent sends the RoutingService (`routing_table normalmode_platform_connection`).
 */
export interface PlatformDiscovery {
  readonly instanceName: string;
  readonly vipAddress: string;
  readonly serverKey: string;
}

const MAX_NAME = 256;
const MAX_ADDRESS = 1_024;

/**
 * The JSON a `/discovery/` endpoint answers, as VOLTTRON's client reads it: `instance-name`
 * required, the rest optional; keys a newer platform may add are kept, not refused.
 */
export const DiscoveryResponseSchema = z.looseObject({
  serverkey: z.string().max(MAX_NAME).optional(),
  'vip-address': z.string().max(MAX_ADDRESS).optional(),
  'instance-name': z.string().min(1, 'must not be empty').max(MAX_NAME),
  'rmq-address': z.string().max(MAX_ADDRESS).optional(),
  'rmq-ca-cert': z.string().optional(),
});
export type DiscoveryResponse = z.infer<typeof DiscoveryResponseSchema>;

/** The wire object in VOLTTRON's key order (`platform_web_service.py` `_get_discovery`). */
export function toDiscoveryResponse(info: DiscoveryInfo): DiscoveryResponse {
  const out: Record<string, string> = {};
  // VOLTTRON sends the key only beside an external VIP address: a key alone says nowhere to connect.
  if (info.vipAddress !== undefined && info.serverKey !== undefined) out.serverkey = info.serverKey;
  if (info.vipAddress !== undefined) out['vip-address'] = info.vipAddress;
  out['instance-name'] = info.instanceName;
  if (info.rmqAddress !== undefined) out['rmq-address'] = info.rmqAddress;
  if (info.rmqCaCert !== undefined) out['rmq-ca-cert'] = info.rmqCaCert;
  return out as DiscoveryResponse;
}

/** The response body exactly as VOLTTRON writes it (`jsonapi.dumps`: Python's json.dumps). */
export function discoveryResponseText(info: DiscoveryInfo): string {
  return pythonJson(toDiscoveryResponse(info));
}

export function fromDiscoveryResponse(wire: DiscoveryResponse): DiscoveryInfo {
  return {
    instanceName: wire['instance-name'],
    vipAddress: wire['vip-address'],
    serverKey: wire.serverkey,
    rmqAddress: wire['rmq-address'],
    rmqCaCert: wire['rmq-ca-cert'],
  };
}

/**
 * Checks the values a platform is about to publish (its own, so a mistake is a configuration
 * error): the instance name rule, a tcp VIP address that is not a wildcard bind, a CURVE key
 * (normalised to 43-char base64url). Throws ConfigError.
 */
export function checkPublishedInfo(info: DiscoveryInfo): DiscoveryInfo {
  const problem = linkProblems(info, { requireLink: false });
  if (problem !== undefined) throw new ConfigError(`discovery information to publish: ${problem}`);
  return { ...info, ...(info.serverKey !== undefined ? { serverKey: encodeKey(info.serverKey) } : {}) };
}

/**
 * The link part of what a remote platform published, or why no ZeroMQ link can be made from it
 * (no VIP address or key, a non-tcp or wildcard address, a malformed key or instance name).
 */
export function linkableDiscovery(info: DiscoveryInfo): PlatformDiscovery | string {
  const problem = linkProblems(info, { requireLink: true });
  if (problem !== undefined) return problem;
  return {
    instanceName: info.instanceName,
    vipAddress: bareTcpAddress(info.vipAddress as string),
    serverKey: encodeKey(info.serverKey as string),
  };
}

function linkProblems(info: DiscoveryInfo, options: { requireLink: boolean }): string | undefined {
  const nameProblem = instanceNameProblem(info.instanceName, 'zmq');
  if (nameProblem !== undefined) return `instance-name ${nameProblem}`;
  if (info.vipAddress === undefined) {
    return options.requireLink ? 'no vip-address: that platform has no external tcp VIP address to link to' : undefined;
  }
  const addressProblem = tcpAddressProblem(info.vipAddress);
  if (addressProblem !== undefined) return `vip-address ${addressProblem}`;
  if (info.serverKey === undefined) {
    return options.requireLink ? 'no serverkey: a link to that platform could not be authenticated' : undefined;
  }
  try {
    encodeKey(info.serverKey);
  } catch (err) {
    if (err instanceof KeyError) return `serverkey is not a CURVE key: ${err.message}`;
    throw err;
  }
  return undefined;
}

const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['*', '0.0.0.0', '[::]', '::', '[::0]']);

/** Why `text` is not a tcp address another machine can connect to, or undefined. */
export function tcpAddressProblem(text: string): string | undefined {
  let address: Address;
  try {
    address = Address.parse(text);
  } catch (err) {
    return `${JSON.stringify(text)} is not a VIP address: ${(err as Error).message}`;
  }
  if (address.scheme !== 'tcp') return `${JSON.stringify(text)} is not a tcp address (a link crosses machines)`;
  const colon = address.endpoint.lastIndexOf(':');
  const host = address.endpoint.slice(0, colon);
  const port = address.endpoint.slice(colon + 1);
  if (WILDCARD_HOSTS.has(host)) return `${JSON.stringify(text)} is a wildcard bind, not an address to connect to`;
  if (port === '*' || port === '0') return `${JSON.stringify(text)} has no fixed port`;
  return undefined;
}

function bareTcpAddress(text: string): string {
  return Address.parse(text).base;
}

/**
 * The VIP address a platform publishes from its bound addresses: the first tcp address that is
 * not a wildcard bind, or undefined. VOLTTRON means to publish the first address that is not
 * private, but its test is handed the address with its port and never matches, so it publishes
 * the first tcp address, wildcard or not (quirk 12.14). Loopback and private addresses are kept:
 * sites link platforms over private networks, and tests over loopback.
 */
export function pickDiscoveryVipAddress(boundAddresses: readonly string[]): string | undefined {
  for (const text of boundAddresses) {
    if (tcpAddressProblem(text) === undefined) return bareTcpAddress(text);
  }
  return undefined;
}
