/** A string value `config://<name>` in a JSON config stands for the config `<name>` of the same store. */
export const LINK_PREFIX = 'config://';
/** The file name suffix of a store: `$VIP_HOME/configuration_store/<identity>.store`. */
export const STORE_EXT = '.store';

const EDGE = /^[\s\\/]+|[\s\\/]+$/g;

/** A config name as the store keys it: whitespace, `/` and `\` trimmed at both ends (VOLTTRON `strip_config_name`). */
export function stripConfigName(name: string): string {
  return name.replace(EDGE, '');
}

/** The config a value links to, or undefined when it is no link. */
export function configLink(value: string): string | undefined {
  if (!value.toLowerCase().startsWith(LINK_PREFIX)) return undefined;
  return stripConfigName(value.slice(LINK_PREFIX.length));
}

/** The (lower-cased) names a config links to, at any depth. Raw and CSV text has no links. */
export function listUniqueLinks(contents: unknown, into = new Set<string>()): Set<string> {
  const values = Array.isArray(contents) ? contents : typeof contents === 'object' && contents !== null ? Object.values(contents) : [];
  for (const value of values) {
    if (typeof value === 'object' && value !== null) listUniqueLinks(value, into);
    else if (typeof value === 'string') {
      const name = configLink(value);
      if (name !== undefined) into.add(name.toLowerCase());
    }
  }
  return into;
}

/**
 * True when storing `contents` as `name` would make a config reach itself through links
 * (VOLTTRON `check_for_recursion`). `existing` gives a config by lower-cased name; a link to a
 * missing config is no cycle.
 */
export function hasRecursion(name: string, contents: unknown, existing: (lowerName: string) => unknown): boolean {
  const target = name.toLowerCase();
  const seen = new Set<string>();
  const follow = (current: string, value: unknown): boolean => {
    const children = listUniqueLinks(value);
    if (children.has(target)) return true;
    seen.add(current);
    for (const child of children) {
      if (seen.has(child)) continue;
      const next = existing(child);
      seen.add(child);
      if (next !== undefined && follow(child, next)) return true;
    }
    return false;
  };
  return follow(target, contents);
}

/**
 * `contents` with every `config://` link replaced by the linked config's contents, links inside
 * those resolved too (agent side, VOLTTRON `_gather_config`). A link to a missing config becomes
 * null; each linked config is resolved once and shared.
 */
export function resolveLinks(contents: unknown, lookup: (lowerName: string) => unknown): unknown {
  const gathered = new Map<string, unknown>();
  const gather = (lowerName: string): unknown => {
    if (gathered.has(lowerName)) return gathered.get(lowerName);
    const copy = structuredClone(lookup(lowerName) ?? null);
    gathered.set(lowerName, copy);
    replaceLinks(copy);
    return copy;
  };
  const replaceLinks = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) return;
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, v] of entries) {
      if (typeof v === 'object' && v !== null) replaceLinks(v);
      else if (typeof v === 'string') {
        const name = configLink(v);
        if (name !== undefined) (value as Record<string | number, unknown>)[key] = gather(name.toLowerCase());
      }
    }
  };
  const root = structuredClone(contents);
  replaceLinks(root);
  return root;
}
