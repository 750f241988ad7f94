/**
 * The full fault, restart, replay and bad-input suite: the same test files CI runs, with the full counts (CHAOS_FULL=1:
 * ten SIGKILLs per phase, three server restarts, ...). Prints, for each row, how many runs were tried, how many ended
 * correctly and how many duplicate posts were seen; exits non-zero when a test failed or a row fell short.
 *
 *   npm run test:chaos            (CHAOS_COUNT=N overrides every count)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FigureRow, formatFigures } from '../test/helpers';

const FILES = [
  'test/crash-matrix.test.ts',
  'test/server-restart.test.ts',
  'test/faults.test.ts',
  'test/bad-input.test.ts',
  'test/small-cache.test.ts',
  'test/replay.test.ts',
];

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const dir = await mkdtemp(path.join(tmpdir(), 'chaos-'));
  const report = path.join(dir, 'figures.jsonl');
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...FILES],
    { cwd: root, stdio: 'inherit', env: { ...process.env, CHAOS_FULL: '1', CHAOS_REPORT: report } },
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  const rows: FigureRow[] = (await readFile(report, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as FigureRow);
  await rm(dir, { recursive: true, force: true });

  const shortfall = rows.filter((row) => row.endedCorrectly !== row.tried || row.duplicatePosts > 0);
  const total = rows.reduce(
    (sum, row) => ({
      tried: sum.tried + row.tried,
      endedCorrectly: sum.endedCorrectly + row.endedCorrectly,
      duplicatePosts: sum.duplicatePosts + row.duplicatePosts,
    }),
    { tried: 0, endedCorrectly: 0, duplicatePosts: 0 },
  );
  console.log(`\ncatalog-rollout chaos suite, full counts (${Math.round((Date.now() - started) / 1000)} s)\n`);
  console.log(formatFigures([...rows, { row: 'total', ...total }]));
  console.log(
    shortfall.length === 0 && code === 0
      ? '\nnothing lost, no duplicate post'
      : `\nFAILED: test exit code ${code}; rows short: ${shortfall.map((row) => row.row).join(', ') || 'none'}`,
  );
  process.exit(shortfall.length === 0 && code === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
