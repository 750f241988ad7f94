import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { freeLoopbackPort } from '../../src/dev/local-temporal';
import type { RunningSimulator } from '../../src/simulator';
import { citrixEnvFor } from './citrix';
import { spawnStarter } from './starter-process';

const ROOT = resolve(__dirname, '../..');

/**
 * The environment of a worker or starter process in a test: this process's own, plus what reaches the simulator and
 * the Temporal server at `address` on `taskQueue`, plus `extra`.
 */
export function processEnvFor(
  simulator: RunningSimulator,
  address: string,
  taskQueue: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    ...process.env,
    ...citrixEnvFor(simulator),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...extra,
  };
}

/** A free port of 127.0.0.1, for a process the test starts. */
export const freePort = freeLoopbackPort;

/** A worker started as an operator starts it: its own process, configured by environment variables. */
export async function spawnWorker(
  env: Record<string, string | undefined>,
  onOutput: (text: string) => void,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      onOutput(String(chunk));
      if (output.includes('worker started')) resolvePromise();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it started:\n${output}`)));
  });
  return child;
}

/** SIGKILL, and wait until the process is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Runs `src/starter.ts` with the arguments and environment given, to its end. */
export function runStarter(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return spawnStarter(args, env).exit();
}

/** A starter's `--json` output, one object per line. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
