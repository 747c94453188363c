// Command-line options for bench scripts: `--name value` / `--flag`, typed from a spec, with --help.
import { parseArgs } from 'node:util';

/**
 * spec: { name: { type: 'number' | 'string' | 'boolean', default, help } }.
 * Returns the parsed values; prints usage and exits on --help or a bad value.
 */
export function parseBenchArgs(spec, { usage = '', argv = process.argv.slice(2) } = {}) {
  const options = { help: { type: 'boolean' } };
  for (const [name, s] of Object.entries(spec)) options[name] = { type: s.type === 'boolean' ? 'boolean' : 'string' };
  const help = () =>
    `${usage}\n\noptions:\n${Object.entries(spec)
      .map(([n, s]) => `  --${n.padEnd(14)} ${s.help ?? ''} (default ${s.default})`)
      .join('\n')}\n`;
  let parsed;
  try {
    // Not strict: tools/bench/run.mjs passes the same flags to every benchmark; unknown ones are ignored with a note.
    parsed = parseArgs({ args: argv, options, strict: false, allowPositionals: true }).values;
  } catch (err) {
    process.stderr.write(`${err.message}\n${help()}`);
    process.exit(2);
  }
  const unknown = Object.keys(parsed).filter((k) => !(k in options));
  if (unknown.length > 0) process.stderr.write(`ignoring options not used here: ${unknown.map((k) => `--${k}`).join(' ')}\n`);
  if (parsed.help) {
    process.stdout.write(help());
    process.exit(0);
  }
  const out = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = parsed[name];
    if (raw === undefined) out[name] = s.default;
    else if (s.type === 'boolean') out[name] = raw === true || raw === 'true';
    else if (typeof raw !== 'string') {
      process.stderr.write(`--${name} needs a value\n${help()}`);
      process.exit(2);
    } else if (s.type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0) {
        process.stderr.write(`--${name} must be a positive number, got ${JSON.stringify(raw)}\n${help()}`);
        process.exit(2);
      }
      out[name] = n;
    } else out[name] = raw;
  }
  return out;
}
