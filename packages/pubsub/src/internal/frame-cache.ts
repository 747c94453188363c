import type { Frame } from '@vip/protocol';

/**
 * Frames made from a few distinct strings over and over (subscriber identities, user ids, the
 * `{"sender": ...` head of each publisher's deliveries): made once and reused, so a publish
 * allocates none of them. Frames are shared by reference, as the router shares forwarded frames:
 * nobody writes into a frame once made. Bounded: when `max` keys are held the cache starts over,
 * so a churn of identities cannot grow memory.
 */
export class FrameCache {
  readonly #frames = new Map<string, Frame>();

  constructor(
    private readonly make: (key: string) => Frame,
    private readonly max = 4096,
  ) {}

  get(key: string): Frame {
    let frame = this.#frames.get(key);
    if (frame === undefined) {
      if (this.#frames.size >= this.max) this.#frames.clear();
      frame = this.make(key);
      this.#frames.set(key, frame);
    }
    return frame;
  }

  clear(): void {
    this.#frames.clear();
  }
}
