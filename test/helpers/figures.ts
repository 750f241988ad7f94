import { appendFileSync } from 'node:fs';
import type { RecordedRequest } from '../../src/simulator';

/** `npm run test:chaos` sets CHAOS_FULL=1 for the full counts; CI runs the reduced ones. */
export function chaosCount(reduced: number, full: number): number {
  const override = Number(process.env.CHAOS_COUNT);
  if (Number.isInteger(override) && override > 0) return override;
  return process.env.CHAOS_FULL === '1' ? full : reduced;
}

/** One row of the figures the fault suite prints: how many runs were tried and how many ended as they must. */
export interface FigureRow {
  row: string;
  tried: number;
  endedCorrectly: number;
  duplicatePosts: number;
  note?: string;
}

const figureRows: FigureRow[] = [];

/** Records a row; `CHAOS_REPORT` (set by `npm run test:chaos`) names a JSON-lines file that collects them all. */
export function recordFigures(row: FigureRow): void {
  figureRows.push(row);
  const file = process.env.CHAOS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function formatFigures(rows: FigureRow[]): string {
  const header = ['row', 'tried', 'ended correctly', 'duplicate posts', 'note'];
  const table = [header, ...rows.map((r) => [r.row, r.tried, r.endedCorrectly, r.duplicatePosts, r.note ?? ''])];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => String(cells[i]).length)));
  return table
    .map((cells) => cells.map((cell, i) => String(cell).padEnd(i === 4 ? 0 : widths[i]!)).join('  '))
    .join('\n')
    .replace(/ +$/gm, '');
}

/** Prints this file's rows (call from `after`). */
export function printFigures(): void {
  if (figureRows.length) console.log(`\n${formatFigures(figureRows)}\n`);
}

/** How long, in ms, passed between the first request matching `isFault` and the next request matching `isNext`. */
export function waitedAfter(
  requests: RecordedRequest[],
  isFault: (r: RecordedRequest) => boolean,
  isNext: (r: RecordedRequest) => boolean = () => true,
): number | undefined {
  const at = requests.findIndex(isFault);
  if (at < 0) return undefined;
  const faulted = requests[at]!;
  const next = requests.slice(at + 1).find(isNext);
  if (!next) return undefined;
  return Date.parse(next.time) - (Date.parse(faulted.time) + faulted.durationMs);
}
