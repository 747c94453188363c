import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';

// A runs directory of this file's own (never the machine's real slot: real suites may be running)
const root = await mkdtemp(join(tmpdir(), 'vip-private-runs-test-'));
process.env.VIP_PRIVATE_RMQ_RUNS_DIR = root;
const runs = await import('../src/private-rabbitmq-runs.js');
const run = promisify(execFile);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Whether another process could take the slot's lock now (flock --nonblock). */
async function slotFree(): Promise<boolean> {
  try {
    await run('flock', ['--exclusive', '--nonblock', join(root, 'slot.lock'), 'true']);
    return true;
  } catch {
    return false;
  }
}

/** A process that looks like an Erlang VM with HOME `home` (argv `beam.smp ... -home <home>`). */
function fakeBeam(home: string): ChildProcess {
  const vm = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)', '--', '-home', home], {
    argv0: '/fake/bin/beam.smp',
    stdio: 'ignore',
  });
  onTestFinished(() => {
    vm.kill('SIGKILL');
  });
  return vm;
}

async function deadPid(): Promise<number> {
  const p = spawn('true');
  await new Promise((r) => p.once('exit', r));
  return p.pid!;
}

function exited(p: ChildProcess): Promise<unknown> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r));
}

describe('the private RabbitMQ slot', () => {
  it('is held by one process at a time; holders in one process share it until the last release', { timeout: 30_000 }, async () => {
    expect(await slotFree()).toBe(true);
    const a = await runs.holdPrivateRabbitMqSlot('a');
    const b = await runs.holdPrivateRabbitMqSlot('b'); // same process: at once
    expect(await slotFree()).toBe(false);
    await a.release();
    expect(await slotFree()).toBe(false);
    await b.release();
    await b.release(); // idempotent
    expect(await slotFree()).toBe(true);
  });

  it('waits for another process, and gives up with the holder named after waitMs', { timeout: 30_000 }, async () => {
    // --close: the lock is the flock process's own, its sleep does not inherit it
    const other = spawn('flock', ['--exclusive', '--close', join(root, 'slot.lock'), 'sleep', '60'], { stdio: 'ignore', detached: true });
    onTestFinished(() => {
      try {
        process.kill(-other.pid!, 'SIGKILL'); // its process group: the sleep too
      } catch {
        // gone
      }
    });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(root, 'slot.holder'), 'the other suite (pid 1)');
    await expect.poll(slotFree, { timeout: 10_000 }).toBe(false);
    await expect(runs.holdPrivateRabbitMqSlot('me', 1_000)).rejects.toThrow(/me: waited 1000 ms .*still held by the other suite/);
    const waiting = runs.holdPrivateRabbitMqSlot('me', 20_000);
    process.kill(-other.pid!, 'SIGKILL'); // a holder that dies frees the slot
    const slot = await waiting;
    expect(await slotFree()).toBe(false);
    await slot.release();
  });

  it('is freed when its holding process dies without releasing', { timeout: 30_000 }, async () => {
    // the holder's `flock` child reads our stdin: a process that dies closes it
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require('child_process').spawn('flock', ['--exclusive', ${JSON.stringify(join(root, 'slot.lock'))}, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdio: ['pipe', 'inherit', 'inherit'] }); setTimeout(() => {}, 60000);`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    onTestFinished(() => {
      holder.kill('SIGKILL');
    });
    await new Promise((r) => holder.stdout!.once('data', r));
    expect(await slotFree()).toBe(false);
    holder.kill('SIGKILL');
    await exited(holder);
    await expect.poll(slotFree, { timeout: 10_000 }).toBe(true);
  });
});

describe('reapDeadRuns', () => {
  beforeAll(async () => {
    await mkdir(root, { recursive: true });
  });

  it("kills the VMs of runs whose test process is gone and removes their directories; a live run's and others are left", {
    timeout: 30_000,
  }, async () => {
    const dead = join(root, `${await deadPid()}-vip_ct-AAAAAA`);
    await mkdir(join(dead, 'home'), { recursive: true });
    const live = await runs.privateRunDir('vip-ct');
    expect(live.startsWith(join(root, `${process.pid}-vip_ct-`))).toBe(true);
    await mkdir(join(live, 'home'), { recursive: true });
    const outside = await mkdtemp(join(tmpdir(), 'vip-not-a-run-'));
    onTestFinished(() => rm(outside, { recursive: true, force: true }));
    const stale = fakeBeam(join(dead, 'home'));
    const ours = fakeBeam(join(live, 'home'));
    const shared = fakeBeam(join(outside, 'home')); // stands for the shared broker (home /var/lib/rabbitmq)
    await expect.poll(async () => (await runs.beamVmsUnder(root)).length, { timeout: 10_000 }).toBe(2);

    expect(await runs.reapDeadRuns()).toEqual([stale.pid]);
    await exited(stale);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(ours.exitCode === null && ours.signalCode === null).toBe(true);
    expect(shared.exitCode === null && shared.signalCode === null).toBe(true);
    expect((await runs.beamVmsUnder(root)).map((v) => v.pid)).toEqual([ours.pid]);
  });
});
