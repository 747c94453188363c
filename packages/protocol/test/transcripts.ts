import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Reads the VOLTTRON 9 wire transcripts in /work/shared/transcripts (test vectors, PROTOCOL.md). */
export const TRANSCRIPT_DIR = process.env.VIP_TRANSCRIPTS ?? '/work/shared/transcripts';

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
