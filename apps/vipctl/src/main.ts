import { runCli } from './cli.js';
import { processIo } from './output.js';

process.exitCode = await runCli(process.argv.slice(2), processIo);
