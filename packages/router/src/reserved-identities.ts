import { identityKey, textFrame } from '@vip/protocol';

/** identity -> the users allowed to hold it, as a plain object or entries. */
export type ReservationTable = Readonly<Record<string, readonly string[]>> | Iterable<readonly [string, Iterable<string>]>;

const NOBODY: ReadonlySet<string> = new Set();

/**
 * Identities the platform keeps for its own services (`platform.auth`, `control`, `config.store`...)
 * and the proven users allowed to hold each. Agents trust a message from `platform.auth` because of
 * its sender identity, and on ZeroMQ the router writes that frame from the peer's routing id, which
 * any admitted peer chooses freely unless its auth entry pins one. So the router routes nothing
 * from a reserved identity whose proven user is not one of its users, and delivers nothing to it
 * until it has proven itself: an impostor holding the routing id gets neither the service's
 * traffic nor its voice. An identity listed with no users is closed to everyone.
 *
 * Users are the ids the transport proves (ZAP admission, broker user_id). The platform fills the
 * table from auth.json (the users of the entries that pin each identity) and replaces it on reload.
 */
export class ReservedIdentities {
  #users: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(table: ReservationTable = {}) {
    this.#users = compile(table);
  }

  /** Identities reserved. */
  get size(): number {
    return this.#users.size;
  }

  /** Replace the whole table (auth.json reload). */
  set(table: ReservationTable): void {
    this.#users = compile(table);
  }

  /** The users allowed to hold the identity with this `identityKey`, or undefined when it is not reserved. */
  usersOf(key: string): ReadonlySet<string> | undefined {
    return this.#users.get(key);
  }

  /** True when the identity (an `identityKey`) is not reserved or `user` may hold it. */
  allows(key: string, user: string): boolean {
    const users = this.#users.get(key);
    return users === undefined || users.has(user);
  }

  /** identity -> users, for logs and tests. */
  toJSON(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [key, users] of this.#users) out[Buffer.from(key, 'latin1').toString('utf8')] = [...users];
    return out;
  }
}

function compile(table: ReservationTable): Map<string, ReadonlySet<string>> {
  const entries: Iterable<readonly [string, Iterable<string>]> =
    Symbol.iterator in table
      ? (table as Iterable<readonly [string, Iterable<string>]>)
      : Object.entries(table as Readonly<Record<string, readonly string[]>>);
  const out = new Map<string, ReadonlySet<string>>();
  for (const [identity, users] of entries) {
    const key = identityKey(textFrame(identity));
    const set = new Set(out.get(key) ?? NOBODY);
    for (const u of users) set.add(u);
    out.set(key, set);
  }
  return out;
}

/**
 * The router's use of a `ReservedIdentities` table: which reserved identities are held by an
 * allowed user now (the user proven on their last message or connect). Holds at most one entry
 * per reserved identity.
 */
export class ReservedIdentityGuard {
  readonly #reserved: ReservedIdentities;
  readonly #holders = new Map<string, string>();

  constructor(reserved: ReservedIdentities) {
    this.#reserved = reserved;
  }

  /** A message (or connect) from the identity `key`, proven as `user`: may it be routed? */
  admits(key: string, user: string): boolean {
    const users = this.#reserved.usersOf(key);
    if (users === undefined) return true;
    if (users.has(user)) {
      this.#holders.set(key, user);
      return true;
    }
    this.#holders.delete(key);
    return false;
  }

  /** May a message be delivered to the identity `key`: not reserved, or held by a user allowed now. */
  reachable(key: string): boolean {
    const users = this.#reserved.usersOf(key);
    if (users === undefined) return true;
    const holder = this.#holders.get(key);
    return holder !== undefined && users.has(holder);
  }

  /** The peer left. */
  forget(key: string): void {
    this.#holders.delete(key);
  }
}
