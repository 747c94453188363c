import { z } from 'zod';
import { ConfigContentError } from './errors.js';

export const CONFIG_TYPES = ['raw', 'json', 'csv'] as const;
export const ConfigTypeSchema = z.enum(CONFIG_TYPES);
export type ConfigType = z.infer<typeof ConfigTypeSchema>;

/** A parsed configuration: the raw text, a JSON object or list, or the rows of a CSV file. */
export type ConfigContents = unknown;

/**
 * The parsed form of a stored configuration (VOLTTRON `process_raw_config`): `raw` is the text
 * itself; `json` is JSON with `#`, `//` and `/* *\/` comments allowed and must be an object or a
 * list; `csv` is a list of row objects keyed by the header row (Python `csv.DictReader`).
 */
export function processRawConfig(raw: string, type: string): ConfigContents {
  switch (type) {
    case 'raw':
      return raw;
    case 'json': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(stripComments(raw));
      } catch (err) {
        throw new ConfigContentError(err instanceof Error ? err.message : String(err), 'json.decoder.JSONDecodeError', { cause: err });
      }
      if (typeof parsed !== 'object' || parsed === null) throw new ConfigContentError('Configuration must be a list or object.');
      return parsed;
    }
    case 'csv':
      return csvRows(raw);
    default:
      throw new ConfigContentError('Unsupported configuration type.');
  }
}

// A quoted string is kept as it is; a comment outside strings is dropped (VOLTTRON utils.strip_comments).
const COMMENT = /((["'])(?:\\?[\s\S])*?\2)|(\/\*[\s\S]*?\*\/)|((?:#|\/\/).*?(?=\n|$))/g;

/** JSON text with `#`, `//` and `/* *\/` comments outside strings removed. */
export function stripComments(text: string): string {
  return text.replace(COMMENT, (_m, quoted: string | undefined) => quoted ?? '');
}

/**
 * Python `csv.DictReader` over the excel dialect: the first row names the fields; empty rows are
 * skipped; a short row fills the missing fields with null; a long row puts the rest, as a list,
 * under the key `null` (Python's `None` key as json.dumps writes it).
 */
export function csvRows(text: string): Record<string, string | null | string[]>[] {
  const rows = csvRecords(text).filter((r) => r.length > 0);
  const header = rows.shift();
  if (!header) return [];
  return rows.map((row) => {
    const out: Record<string, string | null | string[]> = {};
    header.forEach((name, i) => {
      out[name] = i < row.length ? (row[i] as string) : null;
    });
    if (row.length > header.length) out['null'] = row.slice(header.length);
    return out;
  });
}

/** Records of the excel dialect: `,` separated, `"` quoted with `""` as a quote, CRLF or LF line ends. */
function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (c === ',') {
      record.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (fieldStarted || field !== '' || record.length > 0) record.push(field);
      records.push(record);
      record = [];
      field = '';
      fieldStarted = false;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (fieldStarted || field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}
