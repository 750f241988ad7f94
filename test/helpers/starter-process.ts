import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** A starter process that runs on (`--wait`), whose output lines the test can wait for while it runs. */
export interface RunningStarter {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first output line that matches, failing after `timeoutMs`. */
  line(matches: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code and the whole output once the process ends. */
  exit(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `entry` runs another command line the same way, such as the demo (`src/demo.ts`). */
export function spawnStarter(
  args: string[],
  env: Record<string, string | undefined>,
  entry = 'src/starter.ts',
): RunningStarter {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((waiter) => waiter());
  child.stdout!.on('data', (chunk) => ((stdout += chunk), wake()));
  child.stderr!.on('data', (chunk) => ((stderr += chunk), wake()));
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    line: (matches, timeoutMs = 60_000) =>
      new Promise((resolveLine, reject) => {
        const check = () => {
          const found = `${stdout}\n${stderr}`.split('\n').find(matches);
          if (found === undefined) return;
          cleanup();
          resolveLine(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching line within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        const cleanup = () => (clearTimeout(timer), waiters.delete(check));
        waiters.add(check);
        void exited.then(() => {
          check();
          if (waiters.has(check)) {
            cleanup();
            reject(new Error(`the starter exited before a matching line:\n${stdout}\n${stderr}`));
          }
        });
        check();
      }),
    exit: () => exited,
  };
}
