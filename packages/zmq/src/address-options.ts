import { curveKeyPair } from 'zeromq';
import { Address, ConfigError, keyToZ85 } from '@vip/protocol';

/** The socket options a connect address asks for (VOLTTRON `Address.connect`), in zeromq.js names. */
export interface ConnectSocketOptions {
  readonly ipv6: boolean;
  readonly curveServerKey?: string;
  readonly curvePublicKey?: string;
  readonly curveSecretKey?: string;
  readonly plainUsername?: string;
  readonly plainPassword?: string;
}

/**
 * What VOLTTRON's `Address.connect` sets on a socket before connecting (docs/protocol.md 5.2):
 * `ipv6` (off unless asked); with a server key a CURVE client (the given key pair, or a fresh
 * one); otherwise with `username` and a `password` a PLAIN client; otherwise NULL. Keys given
 * outside the address (options, keystore) take the place of the address' own.
 */
export function connectSocketOptions(
  target: Address,
  keys: { readonly serverKey?: string | undefined; readonly publicKey?: string | undefined; readonly secretKey?: string | undefined } = {},
): ConnectSocketOptions {
  const serverKey = keys.serverKey ?? target.serverkey;
  const publicKey = keys.publicKey ?? target.publickey;
  const secretKey = keys.secretKey ?? target.secretkey;
  const ipv6 = target.ipv6 ?? false;
  if (serverKey !== undefined) {
    const pair =
      publicKey !== undefined && secretKey !== undefined
        ? { publicKey: keyToZ85(publicKey), secretKey: keyToZ85(secretKey) }
        : curveKeyPair();
    return { ipv6, curveServerKey: keyToZ85(serverKey), curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey };
  }
  if (target.username !== undefined && target.password !== undefined) {
    return { ipv6, plainUsername: target.username, plainPassword: target.password };
  }
  return { ipv6 };
}

/** The socket options of the router's one ROUTER socket, from every address it binds. */
export interface BindSocketOptions {
  readonly ipv6: boolean;
  /** The ZAP domain (auth.json entries' `domain` is matched against it); undefined: `defaultDomain`. */
  readonly zapDomain: string | undefined;
}

/**
 * What VOLTTRON's `Address.bind` sets from each bind address, for one ROUTER socket (zeromq.js
 * applies options only at construction, so every address must agree): `ipv6` if any address asks
 * for it (an IPv6 literal cannot be bound otherwise); the ZAP `domain`, one for all; `server` must
 * be what the platform serves (CURVE with authentication, NULL without); a PLAIN server is refused,
 * since the platform authenticates by CURVE key only. Throws ConfigError naming the address.
 */
export function bindSocketOptions(addresses: readonly string[], serving: 'CURVE' | 'NULL'): BindSocketOptions {
  let ipv6 = false;
  let zapDomain: string | undefined;
  let domainFrom = '';
  for (const text of addresses) {
    const a = Address.parse(text);
    if (a.ipv6 === true) ipv6 = true;
    if (a.server !== undefined && a.server !== serving) {
      throw new ConfigError(
        `bind address ${a.toString()}: server=${a.server} is not supported here; this platform serves ${serving}` +
          (serving === 'CURVE' ? ' (authentication on)' : ' (authentication off)'),
      );
    }
    if (a.domain !== undefined) {
      if (zapDomain !== undefined && zapDomain !== a.domain) {
        throw new ConfigError(`bind addresses ${domainFrom} and ${a.toString()} ask for different ZAP domains; one socket has one domain`);
      }
      zapDomain = a.domain;
      domainFrom = a.toString();
    }
  }
  return { ipv6, zapDomain };
}
