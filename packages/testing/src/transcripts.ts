import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvalidPayloadError, type Frame } from '@vip/protocol';

/**
 * Where the VOLTTRON 9.0.4 wire transcripts live: the repository's `fixtures/` (see its README),
 * found from this file (src/ and dist/ sit at the same depth); env VIP_TRANSCRIPTS overrides.
 */
export const TRANSCRIPT_DIR =
  process.env.VIP_TRANSCRIPTS ?? fileURLToPath(new URL('../../../fixtures/volttron-9.0.4/transcripts/', import.meta.url));

const FrameSchema = z.union([z.string(), z.object({ hex: z.string().regex(/^([0-9a-f]{2})*$/i) })]);
const TranscriptSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  exchanges: z.array(
    z.object({ t: z.number().optional(), direction: z.string(), identity: z.string().optional(), frames: z.array(FrameSchema) }),
  ),
});

export interface TranscriptExchange {
  readonly direction: string;
  readonly frames: readonly Frame[];
}

export interface Transcript {
  readonly name: string;
  readonly description: string;
  readonly exchanges: readonly TranscriptExchange[];
}

/** Load `<name>.json` from the transcript directory; frames become bytes (`{hex}` decoded). */
export async function loadTranscript(name: string, dir = TRANSCRIPT_DIR): Promise<Transcript> {
  const path = join(dir, `${name}.json`);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InvalidPayloadError(`transcript ${path}`, err instanceof Error ? err.message : String(err), { cause: err });
  }
  const r = TranscriptSchema.safeParse(json);
  if (!r.success)
    throw new InvalidPayloadError(`transcript ${path}`, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return {
    name: r.data.name,
    description: r.data.description ?? '',
    exchanges: r.data.exchanges.map((e) => ({
      direction: e.direction,
      frames: e.frames.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f.hex, 'hex'))),
    })),
  };
}
