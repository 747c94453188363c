import { KeyError, encodeKey } from '@vip/protocol';
import type { KnownHosts } from '@vip/auth';
import { KeyChangedError, type PinnedKeySource } from './errors.js';
import type { PlatformDiscovery } from './discovery-info.js';

/** A key found different from the recorded one and accepted because the operator said so. */
export interface AcceptedKeyChange {
  readonly recordedKey: string;
  readonly recordedIn: PinnedKeySource;
}

export interface KeyPinCheck {
  /** What the platform offers now. */
  readonly offered: PlatformDiscovery;
  /** The key external_platform_discovery.json records under that instance name, if any. */
  readonly storedKey?: string | undefined;
  /** Where the offer came from, for the error. */
  readonly url?: string | undefined;
  /** The operator accepted a new key for this instance. */
  readonly acceptChange: boolean;
}

/**
 * Compares the offered server key with the recorded ones: known_hosts under the offered VIP
 * address first (what agents and vipctl trust when they connect there), then the discovery file
 * under the instance name (the same platform at a new address keeps its key). A difference throws
 * KeyChangedError unless `acceptChange`; then it is returned, so the caller can report it. With no
 * record at all the key is new: trust on first use, the first use being the operator's setup.
 */
export async function checkPinnedKey(knownHosts: KnownHosts, check: KeyPinCheck): Promise<AcceptedKeyChange | undefined> {
  const offered = check.offered.serverKey;
  const inKnownHosts = await knownHosts.get(check.offered.vipAddress);
  const recorded: Array<[string | undefined, PinnedKeySource]> = [
    [inKnownHosts, 'known_hosts'],
    [check.storedKey, 'external_platform_discovery.json'],
  ];
  for (const [key, recordedIn] of recorded) {
    const canonical = key === undefined ? undefined : canonicalKey(key);
    if (canonical === undefined || canonical === offered) continue;
    if (!check.acceptChange) {
      throw new KeyChangedError({
        instanceName: check.offered.instanceName,
        vipAddress: check.offered.vipAddress,
        recordedKey: canonical,
        offeredKey: offered,
        recordedIn,
        url: check.url,
      });
    }
    return { recordedKey: canonical, recordedIn };
  }
  return undefined;
}

/** A recorded key in the canonical form; undefined for text that is no key (nothing pinned). */
function canonicalKey(text: string): string | undefined {
  try {
    return encodeKey(text);
  } catch (err) {
    if (err instanceof KeyError) return undefined;
    throw err;
  }
}

/** Records the offered key in known_hosts under its VIP address unless it is there already. */
export async function recordKnownHost(knownHosts: KnownHosts, platform: PlatformDiscovery): Promise<boolean> {
  const current = await knownHosts.get(platform.vipAddress);
  if (current !== undefined && canonicalKey(current) === platform.serverKey) return false;
  await knownHosts.add(platform.vipAddress, platform.serverKey);
  return true;
}
