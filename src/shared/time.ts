/** Time units in milliseconds, and how a duration is written for people: one home for both (workflow-safe). */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** `2h 5m`, `45s`, `1h 0m 3s` without the zero parts: `1h 3s`. */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.round(ms / SECOND);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  return [hours && `${hours}h`, minutes && `${minutes}m`, (seconds || (!hours && !minutes)) && `${seconds}s`]
    .filter(Boolean)
    .join(' ');
}
