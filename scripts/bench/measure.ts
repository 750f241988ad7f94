/** What the bench's scenarios measure with: process CPU from /proc, bounded concurrency, and workflows' ends. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
const sleep = (msec: number) => new Promise((resolve) => setTimeout(resolve, msec));

/** The fields of `/proc/<pid>/stat` after the command name, which may hold spaces. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system) of a process so far, in ms. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** CPU of a process and its children, those still running and those it has reaped (PostgreSQL's backends). */
export function treeCpuMs(pid: number): number {
  const fields = statFields(pid);
  let total = cpuMs(pid) + ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(entry)[1]) === pid) total += cpuMs(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** `fn` over every item, at most `concurrency` at once; the results in the items' order. */
export async function pool<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

export async function closeTimes(
  client: Client,
  workflowIds: string[],
): Promise<{ id: string; closeMs: number; status: string }[]> {
  return pool(workflowIds, 50, async (id) => {
    const info = await client.workflow.getHandle(id).describe();
    return { id, closeMs: info.closeTime?.getTime() ?? NaN, status: info.status.name };
  });
}

export async function waitUntilClosed(client: Client, query: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { count } = await client.workflow.count(`${query} AND ExecutionStatus = 'Running'`);
    if (count === 0) return;
    if (Date.now() > until) throw new Error(`${count} workflows still running after ${timeoutMs} ms (${query})`);
    await sleep(1_000);
  }
}
