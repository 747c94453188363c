import { EXIT_CODES, VipError, type Logger } from '@vip/protocol';
import { parseCli, USAGE, type PlatformConfig } from './cli-options.js';
import { checkMalloc, MALLOC_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_ENV } from './malloc-check.js';
import { createPlatformLog } from './log-output.js';
import { PLATFORM_VERSION, startVipPlatform, type RunningPlatform } from './platform.js';
import { readyNote } from './ready-note.js';

/** One line on stderr, no stack trace: what went wrong and what to do; exit codes as vipctl's (@vip/protocol EXIT_CODES). */
function fail(message: string, code: number = EXIT_CODES.ERROR): never {
  process.stderr.write(`vip-platform: ${message}\n`);
  process.exit(code);
}

function describe(err: unknown): string {
  if (err instanceof VipError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

async function main(): Promise<void> {
  let config: PlatformConfig;
  try {
    const cli = parseCli(process.argv.slice(2), process.env);
    if (cli.help) {
      process.stdout.write(cli.show === 'version' ? `${PLATFORM_VERSION}\n` : USAGE);
      return;
    }
    config = cli.config;
  } catch (err) {
    fail(describe(err), EXIT_CODES.USAGE); // a bad flag, value or config file setting
  }
  let logger: Logger;
  try {
    logger = createPlatformLog(config).logger;
  } catch (err) {
    fail(describe(err));
  }
  for (const warning of config.configWarnings ?? []) logger.warn('config.unknown-key', { message: warning });

  let platform: RunningPlatform | undefined;
  let shutting: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (shutting ??= (async () => {
      logger.info('platform.stopping', { reason });
      try {
        await platform?.stop();
      } catch (err) {
        logger.error('platform.stop.failed', undefined, err);
        process.exitCode = EXIT_CODES.ERROR;
      }
      logger.info('platform.stopped');
      // Every socket is closed; leave now rather than wait on a library's idle handles.
      process.exit();
    })());
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  logger.info('platform.starting', { home: config.vipHome, instance: config.instanceName, auth: config.allowAuth });
  const malloc = checkMalloc(process.env);
  const limits = config.limits;
  logger.info('platform.memory', { mallocMmapThreshold: malloc.mmapThreshold, ...limits });
  if (malloc.warn) {
    logger.warn('platform.memory.malloc_dynamic', {
      fix: `start with ${MALLOC_MMAP_THRESHOLD_ENV}=${MALLOC_MMAP_THRESHOLD} (apps/platform/bin/vip-platform does): without it memory freed after a burst of large messages stays in the process`,
    });
  }
  try {
    platform = await startVipPlatform(config, logger, () => void shutdown('quit'));
  } catch (err) {
    fail(describe(err));
  }
  if (shutting) return;
  const ready = platform.ready;
  logger.info('platform.ready', { bus: config.messageBus, addresses: ready.addresses.join(' '), serverkey: ready.serverkey ?? undefined });
  process.stdout.write(`${JSON.stringify({ event: 'ready', bus: config.messageBus, ...ready, home: config.vipHome })}\n`);
  // For the person who ran it: where it listens, its key, its home, how to admit an agent.
  if (config.logLevel !== 'silent') process.stderr.write(`${readyNote(config, ready)}\n`);
}

main().catch((err: unknown) => fail(describe(err)));
