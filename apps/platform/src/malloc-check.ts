/** The glibc setting bin/vip-platform makes (README "Memory"): buffers above 128 KiB go back to the system when freed. */
export const MALLOC_MMAP_THRESHOLD_ENV = 'MALLOC_MMAP_THRESHOLD_';
export const MALLOC_MMAP_THRESHOLD = 131072;

/** What `platform.memory` reports at start, and whether to warn. */
export interface MallocCheck {
  /** glibc's version when the process runs on glibc, else undefined (musl, macOS: nothing to set). */
  readonly glibc: string | undefined;
  /** The fixed threshold in force (env or GLIBC_TUNABLES), or 'dynamic' (glibc's default). */
  readonly mmapThreshold: string;
  /** True on glibc with the dynamic threshold: freed message buffers may stay in the process. */
  readonly warn: boolean;
}

/**
 * glibc's malloc raises its mmap threshold to the size of the largest block freed (up to 32 MiB),
 * so after messages of 1 MiB are freed, later ones come from the heap and what they leave stays
 * mapped: a router that buffered a burst of large messages keeps its peak RSS. A fixed threshold
 * (the environment variable, read by glibc when the process starts: it cannot be set from here)
 * keeps large buffers mmap'd and returned on free.
 */
export function checkMalloc(env: NodeJS.ProcessEnv, glibcVersion: string | undefined = glibcRuntime()): MallocCheck {
  const tunable = /glibc\.malloc\.mmap_threshold=(\d+)/.exec(env.GLIBC_TUNABLES ?? '')?.[1];
  const fixed = env[MALLOC_MMAP_THRESHOLD_ENV] ?? tunable;
  return { glibc: glibcVersion, mmapThreshold: fixed ?? 'dynamic', warn: glibcVersion !== undefined && fixed === undefined };
}

function glibcRuntime(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return header?.glibcVersionRuntime;
  } catch {
    return undefined;
  }
}
