// Types of check-imports.mjs (plain JavaScript so that .ci/run runs it with node, before any build).
export interface Violation {
  readonly rule:
    | 'path-escape'
    | 'workspace-path'
    | 'not-exported'
    | 'undeclared'
    | 'tag'
    | 'self-import'
    | 'export-star'
    | 'test-layout'
    | 'file-cycle'
    | 'package-cycle';
  /** Relative to the workspace root. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
}
export declare function checkWorkspace(root?: string): Violation[];
export declare function formatViolation(violation: Violation): string;
export declare function specifiersOf(
  fileName: string,
  text: string,
): { specifier: string; line: number; typeOnly: boolean; star?: boolean }[];
export declare function findCycles<T>(graph: Map<T, Set<T>>): T[][];
