import { identityKey, textFrame, type RouterExtension } from '@vip/protocol';

/**
 * The router's subsystems: one dispatch map from subsystem name (its `identityKey`) to the
 * extension serving it, and the extensions in registration order (for the peer hooks, stats and
 * close). Registering an extension for a subsystem takes the subsystem over from the one
 * registered before; an extension left serving none of its subsystems is removed, hooks and all
 * (the RabbitMQ peerlist extension replaces the router's `peerlist` and `error`, events included).
 */
export class ExtensionRegistry {
  readonly #bySubsystem = new Map<string, RouterExtension>();
  #all: RouterExtension[] = [];

  register(extension: RouterExtension): void {
    for (const name of extension.subsystems) this.#bySubsystem.set(keyOf(name), extension);
    this.#all.push(extension);
    this.#all = this.#all.filter((e) => e.subsystems.length === 0 || e.subsystems.some((s) => this.#bySubsystem.get(keyOf(s)) === e));
  }

  /** The extension serving the subsystem whose `identityKey` is `key`. */
  get(key: string): RouterExtension | undefined {
    return this.#bySubsystem.get(key);
  }

  /** Every registered extension, in registration order. */
  get all(): readonly RouterExtension[] {
    return this.#all;
  }
}

/** Subsystem names compare as the frames a peer sends (identityKey of their UTF-8 bytes). */
function keyOf(name: string): string {
  return identityKey(textFrame(name));
}

/** An extension's key in statistics and logs. */
export function extensionName(extension: RouterExtension): string {
  return extension.name ?? extension.subsystems[0] ?? 'extension';
}
