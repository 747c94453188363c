// Child processes for benchmarks: start, wait for a JSON line, stop (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const live = new Set();
let hooked = false;

/** Kills every child still running when the bench process exits or is interrupted. */
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/**
 * Spawns `node script ...args` (or `command` when given) and returns a handle:
 * - `line(predicate, timeoutMs)`: the first JSON line on stdout or stderr matching predicate;
 *   rejects with the stderr tail if the process exits first or the deadline passes;
 * - `stop(graceMs)`: SIGTERM, SIGKILL after the grace period; resolves when the process is gone.
 */
export function startChild(name, script, args = [], { command = process.execPath, env = process.env } = {}) {
  hookExit();
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles every child node process
  // (node refuses --cpu-prof in NODE_OPTIONS). A child stopped by SIGKILL writes no profile.
  const nodeArgs =
    command === process.execPath && process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : [];
  const child = spawn(command, [...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  live.add(child);
  const lines = [];
  const waiters = new Set();
  const tail = [];
  let exited;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exited = { code, signal };
      for (const w of waiters)
        w.reject(new Error(`${name} exited (${signal ?? code}) before the expected line; stderr tail:\n${tail.join('\n')}`));
      waiters.clear();
      resolve(exited);
    });
  });
  const onLine = (text, isErr) => {
    if (isErr) {
      tail.push(text);
      if (tail.length > 20) tail.shift();
    }
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    if (value === null || typeof value !== 'object') return;
    lines.push(value);
    for (const w of waiters)
      if (w.predicate(value)) {
        waiters.delete(w);
        w.resolve(value);
      }
  };
  createInterface({ input: child.stdout }).on('line', (l) => onLine(l, false));
  createInterface({ input: child.stderr }).on('line', (l) => onLine(l, true));

  return {
    name,
    pid: child.pid,
    line(predicate, timeoutMs = 10_000) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      if (exited)
        return Promise.reject(new Error(`${name} already exited (${exited.signal ?? exited.code}); stderr tail:\n${tail.join('\n')}`));
      return new Promise((resolve, reject) => {
        const w = {
          predicate,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${name}: no expected line within ${timeoutMs} ms; stderr tail:\n${tail.join('\n')}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async stop(graceMs = 3000) {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
    exited: () => exitPromise,
  };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function cpuTimeMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (clock ticks; 100 per second on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
