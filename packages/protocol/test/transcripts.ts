import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Reads the VOLTTRON 9.0.4 wire transcripts in the repository's fixtures/ (test vectors). */
export const TRANSCRIPT_DIR =
  process.env.VIP_TRANSCRIPTS ?? fileURLToPath(new URL('../../../fixtures/volttron-9.0.4/transcripts/', import.meta.url));

export interface TranscriptExchange {
  readonly direction: string;
  readonly frames: readonly Buffer[];
}

type RawFrame = string | { hex: string };

export function loadTranscript(name: string): TranscriptExchange[] {
  const raw = JSON.parse(readFileSync(join(TRANSCRIPT_DIR, `${name}.json`), 'utf8')) as {
    exchanges: Array<{ direction: string; frames: RawFrame[] }>;
  };
  return raw.exchanges.map((e) => ({
    direction: e.direction,
    frames: e.frames.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f.hex, 'hex'))),
  }));
}
