import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What the heavy private-RabbitMQ test suites share (the 3-node cluster, federation between
 * private nodes: tests/integration/private-rabbitmq.ts), so that they are safe in CI:
 *
 * - one at a time, machine-wide: `holdPrivateRabbitMqSlot` (their nodes use fixed ports and two
 *   of them at once on two cores would starve each other's timing);
 * - a fresh directory per run, `privateRunDir`, named after the test process's pid;
 * - nodes left behind by a run whose test process died (killed CI job, crashed worker) found by
 *   that directory (the Erlang VM's `-home`, which tools/rmq-cluster.sh points into it) and
 *   killed, `reapDeadRuns`. Only VMs whose home is in RUNS_DIR are ever touched: never the shared
 *   broker (home /var/lib/rabbitmq), never a run whose process is alive.
 */
export const PRIVATE_RUNS_DIR = process.env.VIP_PRIVATE_RMQ_RUNS_DIR ?? join(tmpdir(), 'vip-rmq-private-runs'); // set by this module's own tests only
const SLOT_LOCK = join(PRIVATE_RUNS_DIR, 'slot.lock');
/** Who holds the slot, for the message of a waiter that gives up (informative only: the flock decides). */
const SLOT_HOLDER = join(PRIVATE_RUNS_DIR, 'slot.holder');

/** True while process `pid` exists (signal 0 only checks). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL `pid`, already gone is fine. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Erlang VMs (beam.smp) whose home directory (the `-home` argument, from HOME) is under `root`. */
export async function beamVmsUnder(root: string): Promise<Array<{ pid: number; home: string }>> {
  const found: Array<{ pid: number; home: string }> = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const i = argv.indexOf('-home');
    const home = i >= 0 ? argv[i + 1] : undefined;
    if (home?.startsWith(`${root}/`) && argv.some((a) => a.endsWith('beam.smp'))) found.push({ pid: Number(entry), home });
  }
  return found;
}

/** The pid of the test process that made run directory `dir` (`<pid>-<label>-XXXXXX`). */
function runOwner(dir: string): number {
  const name = dir.slice(PRIVATE_RUNS_DIR.length + 1).split('/')[0] ?? '';
  return Number(name.split('-')[0]);
}

/** A new directory for one run's nodes: `PRIVATE_RUNS_DIR/<our pid>-<label>-XXXXXX`. */
export async function privateRunDir(label: string): Promise<string> {
  await mkdir(PRIVATE_RUNS_DIR, { recursive: true });
  const safe = label.replace(/[^A-Za-z0-9_.]+/g, '_') || 'run';
  return mkdtemp(join(PRIVATE_RUNS_DIR, `${process.pid}-${safe}-`));
}

/**
 * Kill the nodes of runs whose test process is gone and remove those runs' directories; returns
 * the pids killed. A node of a live run (another checkout's, or this process's) is left alone.
 */
export async function reapDeadRuns(): Promise<number[]> {
  const killed: number[] = [];
  for (const vm of await beamVmsUnder(PRIVATE_RUNS_DIR)) {
    if (processAlive(runOwner(vm.home))) continue;
    killQuietly(vm.pid);
    killed.push(vm.pid);
  }
  for (const d of await readdir(PRIVATE_RUNS_DIR, { withFileTypes: true }).catch(() => [])) {
    if (!d.isDirectory()) continue;
    const dir = join(PRIVATE_RUNS_DIR, d.name);
    if (!processAlive(runOwner(dir))) await rm(dir, { recursive: true, force: true });
  }
  return killed;
}

export interface PrivateRabbitMqSlot {
  /** Give the slot up (idempotent). */
  release(): Promise<void>;
}

/** This process's hold on the slot, shared by its holders (a test file with two private nodes). */
let processHold: { readonly held: Promise<PrivateRabbitMqSlot>; users: number } | undefined;

/**
 * Wait (up to `waitMs`) until no other process holds the private-RabbitMQ slot, then hold it until
 * `release`. Holders in one process share the slot (counted: the last release frees it), so a
 * test file may start several private node sets. `what` names the holder in a waiter's timeout error.
 */
export async function holdPrivateRabbitMqSlot(what: string, waitMs = 600_000): Promise<PrivateRabbitMqSlot> {
  processHold ??= { held: lockSlot(what, waitMs), users: 0 };
  const hold = processHold;
  hold.users += 1;
  let slot: PrivateRabbitMqSlot;
  try {
    slot = await hold.held;
  } catch (err) {
    hold.users -= 1;
    if (processHold === hold) processHold = undefined;
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      hold.users -= 1;
      if (hold.users > 0) return;
      if (processHold === hold) processHold = undefined;
      await slot.release();
    },
  };
}

/**
 * The lock itself: the kernel's flock on SLOT_LOCK, held by a `flock` child whose stdin is ours.
 * When this process dies, however, the pipe closes, the child ends and the slot is free: a stale
 * holder cannot block the next run.
 */
async function lockSlot(what: string, waitMs: number): Promise<PrivateRabbitMqSlot> {
  await mkdir(PRIVATE_RUNS_DIR, { recursive: true });
  const child = spawn(
    'flock',
    ['--exclusive', '--timeout', String(Math.ceil(waitMs / 1000)), SLOT_LOCK, 'sh', '-c', 'echo held; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const held = await new Promise<boolean>((resolve, reject) => {
    child.stdout.once('data', () => resolve(true));
    child.once('error', (err) =>
      reject(new Error(`flock could not be run (util-linux) to wait for the private RabbitMQ slot: ${err.message}`)),
    );
    void exited.then(() => resolve(false));
  });
  if (!held) {
    const holder = await readFile(SLOT_HOLDER, 'utf8').catch(() => 'unknown');
    throw new Error(`${what}: waited ${waitMs} ms for the private RabbitMQ slot, still held by ${holder.trim()} ${stderr.trim()}`);
  }
  await writeFile(SLOT_HOLDER, `${what} (pid ${process.pid})`);
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        await rm(SLOT_HOLDER, { force: true });
        child.stdin.end();
        await exited;
      })()),
  };
}
