import { join } from 'node:path';
import { AuthError } from '@vip/protocol';
import { AuthEntrySchema, serialiseAuthEntry } from './auth-entry.js';
import type { AuthEntry, AuthEntryInput } from './auth-entry.js';
import { AUTH_FILE_VERSION, AuthFileSchema, AuthRules } from './auth-rules.js';
import type { AuthFileData } from './auth-rules.js';
import { approvedAddress, stableAddressKey } from './ipc-peer-address.js';
import { describeIssues, formatJson, readJsonFile, writeFileAtomic } from './json-file.js';
import type { PendingAuthEntry, PendingAuthStore } from './pending-store.js';

export type AuthList = 'allow' | 'deny';

/** `{index}` in the list, or the entry's `user_id`. */
export type AuthEntryRef = { readonly index: number } | { readonly userId: string };

export interface AuthFileOptions {
  /** Path of auth.json (e.g. `$VIP_HOME/auth.json`). */
  readonly path: string;
  /** Where refused credentials wait for `approve` / `deny` (optional). */
  readonly pending?: PendingAuthStore;
}

/** `$VIP_HOME/auth.json`, `$VIP_HOME/auth_pending.json`. */
export function authFilePaths(vipHome: string): { readonly authFile: string; readonly pendingFile: string } {
  return { authFile: join(vipHome, 'auth.json'), pendingFile: join(vipHome, 'auth_pending.json') };
}

/**
 * `$VIP_HOME/auth.json` in VOLTTRON's format (docs/protocol.md 5.5): reading (`read`, `load`) and the
 * operator's changes (`add`, `remove`, `approve`, `deny`, `setGroups`, `setRoles`).
 *
 * Every change re-reads the file, applies itself and writes the whole file atomically (temp file
 * + rename, mode 0600), so a reader (the platform's watcher) never sees half a file. Changes from
 * this object run one at a time; two processes changing the file at the same instant can still
 * lose one change (VOLTTRON takes an flock; Node has none without a native module).
 * A file that does not exist reads as empty; a file that cannot be read or validated throws
 * ConfigError naming the path and the field, and a change refuses to overwrite it.
 */
export class AuthFile {
  readonly path: string;
  readonly #pending: PendingAuthStore | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: AuthFileOptions) {
    this.path = options.path;
    this.#pending = options.pending;
  }

  /** The validated file (entries with defaults filled in). Throws ConfigError. */
  async read(): Promise<AuthFileData> {
    return (await readJsonFile(this.path, AuthFileSchema, { what: 'auth file', comments: true })) ?? emptyData();
  }

  /** The compiled rules. Throws ConfigError. */
  async load(): Promise<AuthRules> {
    return new AuthRules(await this.read());
  }

  /** Allow and deny entries with their indices (what `vipctl auth list` shows). */
  async list(): Promise<{ allow: AuthEntry[]; deny: AuthEntry[]; groups: AuthFileData['groups']; roles: AuthFileData['roles'] }> {
    const data = await this.read();
    return { allow: data.allow, deny: data.deny, groups: data.groups, roles: data.roles };
  }

  /** Pending (refused, unknown) credentials, or [] without a pending store. */
  async listPending(): Promise<PendingAuthEntry[]> {
    return this.#pending ? this.#pending.list() : [];
  }

  /**
   * Adds an entry (to `allow` by default). Refuses (AuthError) an entry whose user_id, or whose
   * domain/address/mechanism/credentials, is already in that list. Returns the stored entry.
   */
  async add(input: AuthEntryInput, list: AuthList = 'allow'): Promise<AuthEntry> {
    const entry = parseEntry(input);
    return this.#change((data) => {
      const clash = data[list].findIndex((e) => e.user_id === entry.user_id || sameCredentials(e, entry));
      if (clash >= 0) {
        throw new AuthError(`${list} entry ${clash} (user_id ${JSON.stringify(data[list][clash]?.user_id)}) already covers this entry`);
      }
      data[list].push(entry);
      return entry;
    });
  }

  /** Removes one entry by index or user_id and returns it; AuthError when there is none. */
  remove(ref: AuthEntryRef, list: AuthList = 'allow'): Promise<AuthEntry> {
    return this.#change((data) => {
      const index = 'index' in ref ? ref.index : data[list].findIndex((e) => e.user_id === ref.userId);
      const [removed] = Number.isInteger(index) && index >= 0 ? data[list].splice(index, 1) : [];
      if (!removed)
        throw new AuthError(`no ${list} entry ${'index' in ref ? `at index ${ref.index}` : `with user_id ${JSON.stringify(ref.userId)}`}`);
      return removed;
    });
  }

  /**
   * Allows `userId`: a pending credential becomes an allow entry (with the domain and address it
   * came from, as VOLTTRON does), or a deny entry moves to `allow`. AuthError when neither exists.
   */
  approve(userId: string): Promise<AuthEntry> {
    return this.#move(userId, 'deny', 'allow');
  }

  /** Denies `userId`: a pending credential becomes a deny entry, or an allow entry moves to `deny`. */
  deny(userId: string): Promise<AuthEntry> {
    return this.#move(userId, 'allow', 'deny');
  }

  /** Replaces the group -> roles map. */
  setGroups(groups: Record<string, string[]>): Promise<void> {
    return this.#change((data) => {
      data.groups = groups;
    });
  }

  /** Replaces the role -> capabilities map. */
  setRoles(roles: Record<string, string[]>): Promise<void> {
    return this.#change((data) => {
      data.roles = roles;
    });
  }

  /**
   * Changes the first entry of `list` that `find` selects, in one read-change-write: `change` gets
   * a copy and returns the entry to store, or undefined to leave the file untouched (no write, no
   * reload). Returns the stored entry and its index, or undefined when no entry matched.
   */
  modify(
    find: (entry: AuthEntry, index: number) => boolean,
    change: (entry: AuthEntry) => AuthEntryInput | undefined,
    list: AuthList = 'allow',
  ): Promise<{ readonly index: number; readonly entry: AuthEntry } | undefined> {
    return this.#change(
      (data) => {
        const index = data[list].findIndex(find);
        const found = data[list][index];
        if (!found) return undefined;
        const next = change(structuredClone(found));
        if (next === undefined) return undefined;
        const entry = parseEntry(next);
        data[list][index] = entry;
        return { index, entry };
      },
      (result) => result !== undefined,
    );
  }

  /** Replaces the entry at `index` (VOLTTRON's `update_by_index`); AuthError when there is none. */
  replace(index: number, input: AuthEntryInput, list: AuthList = 'allow'): Promise<AuthEntry> {
    const entry = parseEntry(input);
    return this.#change((data) => {
      if (!Number.isInteger(index) || index < 0 || index >= data[list].length) throw new AuthError(`no ${list} entry at index ${index}`);
      data[list][index] = entry;
      return entry;
    });
  }

  /** Removes the entries at `indices` (VOLTTRON's `remove_by_indices`); AuthError naming any index out of range, nothing removed then. */
  removeIndices(indices: readonly number[], list: AuthList = 'allow'): Promise<AuthEntry[]> {
    return this.#change((data) => {
      const bad = indices.filter((i) => !Number.isInteger(i) || i < 0 || i >= data[list].length);
      if (bad.length > 0) throw new AuthError(`no ${list} entry at index ${bad.join(', ')}`);
      const drop = new Set(indices);
      const removed = data[list].filter((_e, i) => drop.has(i));
      data[list] = data[list].filter((_e, i) => !drop.has(i));
      return removed;
    });
  }

  /** Forgets a pending credential without deciding on it (VOLTTRON's `delete_authorization`); undefined when none waits. */
  async forgetPending(userId: string): Promise<PendingAuthEntry | undefined> {
    return this.#pending?.take(userId);
  }

  async #move(userId: string, from: AuthList, to: AuthList): Promise<AuthEntry> {
    // Peek first and take after the write: a refused write must not lose the pending record.
    const waiting = await this.listPending();
    const pending = waiting.find((e) => e.user_id === userId);
    // the decision is about the key from that origin: its pending lines of earlier runs go too (an ipc agent's older pids)
    const sameKey = pending
      ? waiting.filter(
          (e) =>
            e.mechanism === pending.mechanism &&
            e.credentials === pending.credentials &&
            e.domain === pending.domain &&
            stableAddressKey(e.address) === stableAddressKey(pending.address),
        )
      : [];
    const moved = await this.#change((data) => {
      let entry: AuthEntry;
      if (pending) {
        entry = parseEntry({
          domain: pending.domain,
          // an ipc peer's address names its pid: the entry must hold for the agent's next run too
          address: approvedAddress(pending.address),
          mechanism: pending.mechanism,
          credentials: pending.credentials,
          user_id: pending.user_id,
          comments: `${to === 'allow' ? 'approved' : 'denied'} after ${pending.retries + 1} refused attempt(s)`,
        });
      } else {
        const index = data[from].findIndex((e) => e.user_id === userId);
        const found = data[from][index];
        if (!found) throw new AuthError(`no pending credential and no ${from} entry with user_id ${JSON.stringify(userId)}`);
        data[from].splice(index, 1);
        entry = found;
      }
      data[to] = data[to].filter((e) => e.user_id !== userId && !sameCredentials(e, entry));
      data[to].push(entry);
      return entry;
    });
    for (const e of sameKey) await this.#pending?.take(e.user_id);
    return moved;
  }

  /** Read, change, write atomically (unless `write` says no); one change at a time. */
  #change<T>(apply: (data: AuthFileData) => T, write: (result: T) => boolean = () => true): Promise<T> {
    const run = this.#queue.then(async () => {
      const data = await this.read();
      const result = apply(data);
      if (!write(result)) return result;
      await writeFileAtomic(this.path, formatJson(serialiseData(data)), { mode: 0o600 });
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function emptyData(): AuthFileData {
  return { allow: [], deny: [], groups: {}, roles: {}, version: { ...AUTH_FILE_VERSION } };
}

function parseEntry(input: AuthEntryInput): AuthEntry {
  const parsed = AuthEntrySchema.safeParse(input);
  if (!parsed.success) throw new AuthError(`invalid auth entry: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function sameCredentials(a: AuthEntry, b: AuthEntry): boolean {
  const eq = (x: string[] | null, y: string[] | null) => JSON.stringify(x) === JSON.stringify(y);
  return eq(a.domain, b.domain) && eq(a.address, b.address) && a.mechanism === b.mechanism && eq(a.credentials, b.credentials);
}

function serialiseData(data: AuthFileData): Record<string, unknown> {
  return {
    ...data,
    allow: data.allow.map(serialiseAuthEntry),
    deny: data.deny.map(serialiseAuthEntry),
    groups: data.groups,
    roles: data.roles,
    version: { ...AUTH_FILE_VERSION },
  };
}
