// Types of verdaccio.mjs for the TypeScript tests that import it.
export declare const VERDACCIO_VERSION: string;
export declare class RegistryStartError extends Error {
  readonly code: 'REGISTRY_START';
}
export interface RunningRegistry {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** An npmrc with `registry=` and a publish token for it. */
  readonly userconfig: string;
  /** Temporary folder of its config and storage (removed by stop). */
  readonly dir: string;
  /** Its recent log output. */
  output(): string;
  stop(): Promise<void>;
}
export declare function ensureVerdaccio(options?: { log?: (line: string) => void }): Promise<string>;
export declare function startRegistry(options?: {
  uplink?: string;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}): Promise<RunningRegistry>;
