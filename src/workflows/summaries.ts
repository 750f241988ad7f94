/**
 * The one-line summaries the Temporal UI and `temporal workflow describe` show beside each activity and timer of a
 * workflow. They are user metadata, not part of a command's identity, so recorded histories replay with or without
 * them. Names are cut so that a line stays readable however long a catalog or image is called.
 */
import { formatDuration } from '../shared/time';
import { truncateText } from '../shared/rollout-progress';

const NAME_CHARS = 32;
const SUMMARY_CHARS = 120;

const name = (text: string | undefined) => truncateText(text ?? '?', NAME_CHARS);
const line = (text: string) => truncateText(text, SUMMARY_CHARS);

/** `2026-12-05T00:00:00.000Z` → `Sat 2026-12-05 00:00 UTC`: a time the reader needs no calendar for. */
function when(ms: number): string {
  const at = new Date(ms);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][at.getUTCDay()];
  return `${day} ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const summaries = {
  // Before validation only the ids are known; they are bounded by the input's checks.
  validate: (catalogId: string, imageId: string) => line(`validate catalog ${catalogId} for image ${imageId}`),
  post: (image: string | undefined, catalog: string | undefined) =>
    line(`post image ${name(image)} to ${name(catalog)}`),
  poll: (catalog: string | undefined) => line(`poll catalog ${name(catalog)}`),
  resolveTargets: () => 'resolve the image and the catalogs',
  assessImpact: (catalogs: number) => line(`read the blast radius of ${catalogs} catalogs`),
  loadRestore: (rolloutId: string) => line(`load what rollout ${name(rolloutId)} moved`),
  windowStatus: () => 'is the maintenance window open?',
  checkHealth: (wave: number, catalogs: number) => line(`check health of wave ${wave + 1} (${catalogs} catalogs)`),
  notify: (event: string) => line(`notify ${event}`),
  startAt: (atMs: number) => line(`start at ${when(atMs)}`),
  bake: (ms: number, wave: number) => line(`bake ${formatDuration(ms)} after wave ${wave + 1}`),
  windowOpens: (atMs: number) => line(`window opens ${when(atMs)}`),
  healthWait: (ms: number, wave: number) => line(`let wave ${wave + 1}'s machines settle ${formatDuration(ms)}`),
};
