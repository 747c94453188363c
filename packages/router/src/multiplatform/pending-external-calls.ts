import type { Frame } from '@vip/protocol';

/** A JSON-RPC id as it travels (string or number). */
export type RpcIdValue = string | number;

export interface PendingExternalCall {
  readonly platform: string;
  readonly id: RpcIdValue;
  /** The local caller's routing id and the VIP message id of its call. */
  readonly caller: Frame;
  readonly vipId: Frame;
  readonly toPeer: string;
}

/**
 * External calls sent on a link and not answered yet, so that a link going down fails them at
 * once. Bounded in count: past the limit the oldest is forgotten (counted `evicted`; its caller's
 * own timeout still settles it).
 */
export class PendingExternalCalls {
  readonly #calls = new Map<string, PendingExternalCall>();
  readonly #max: number;
  #evicted = 0;

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  get size(): number {
    return this.#calls.size;
  }

  get evicted(): number {
    return this.#evicted;
  }

  add(platform: string, id: RpcIdValue, call: Omit<PendingExternalCall, 'platform' | 'id'>): void {
    const key = keyOf(platform, id);
    this.#calls.delete(key);
    this.#calls.set(key, { platform, id, ...call });
    while (this.#calls.size > this.#max) {
      const oldest = this.#calls.keys().next().value as string;
      this.#calls.delete(oldest);
      this.#evicted++;
    }
  }

  /** Forget (and return) the calls to `platform` with these ids. */
  take(platform: string, ids: readonly RpcIdValue[]): PendingExternalCall[] {
    const out: PendingExternalCall[] = [];
    for (const id of ids) {
      const key = keyOf(platform, id);
      const call = this.#calls.get(key);
      if (call === undefined) continue;
      this.#calls.delete(key);
      out.push(call);
    }
    return out;
  }

  /** Forget (and return) every call to `platform`. */
  takePlatform(platform: string): PendingExternalCall[] {
    const out: PendingExternalCall[] = [];
    for (const [key, call] of this.#calls) {
      if (call.platform !== platform) continue;
      this.#calls.delete(key);
      out.push(call);
    }
    return out;
  }
}

function keyOf(platform: string, id: RpcIdValue): string {
  return `${platform}\u0000${typeof id}:${String(id)}`;
}

/** The ids of the JSON-RPC requests among `texts` (notifications have none; batches are looked into). */
export function requestIdsOf(texts: readonly string[]): RpcIdValue[] {
  return idsOf(texts, (o) => typeof o.method === 'string');
}

/** The ids of the JSON-RPC responses among `texts`. */
export function responseIdsOf(texts: readonly string[]): RpcIdValue[] {
  return idsOf(texts, (o) => 'result' in o || 'error' in o);
}

function idsOf(texts: readonly string[], pick: (o: Record<string, unknown>) => boolean): RpcIdValue[] {
  const ids: RpcIdValue[] = [];
  const look = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    const o = value as Record<string, unknown>;
    if (!pick(o)) return;
    if (typeof o.id === 'string' || (typeof o.id === 'number' && Number.isFinite(o.id))) ids.push(o.id);
  };
  for (const text of texts) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue; // not JSON: the callee answers it as an invalid request, we wait for nothing
    }
    if (Array.isArray(value)) for (const item of value.slice(0, 1024)) look(item);
    else look(value);
  }
  return ids;
}
