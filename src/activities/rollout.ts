import { Context, getClient, log } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { request } from 'undici';
import { type CitrixClient, CitrixNotFoundError, type TemplateImage, outboundUrlProblem } from '../citrix';
import { FailureType } from '../shared';
import { MINUTE } from '../shared/time';
import {
  type LegacyRolloutProgress,
  type MaintenanceWindow,
  ROLLOUT_LIMITS,
  type RolloutResult,
  WEEKDAYS,
  catalogsOf,
  imageColumn,
  movedByRollout,
  rolloutWorkflowId,
  truncateText,
} from '../shared/rollout';
import { SETTLED_STATES } from '../citrix/catalog-states';
import { sameId } from '../citrix/ids';
import { citrixCall } from './citrix-failures';
import { outboundDispatcher } from './outbound';
import { compileNamePattern, namePatternProblem } from './name-pattern';

export interface RolloutActivityDependencies {
  citrix: CitrixClient;
  /**
   * Slack- or Teams-compatible incoming webhook for rollout notifications. It is a secret (its URL is the credential),
   * so it lives in the worker's configuration, never in workflow input.
   */
  webhookUrl?: string;
}

export interface ResolveTargetsRequest {
  imageId?: string;
  imageNamePattern?: string;
  catalogIds?: string[];
  allCatalogs: boolean;
  catalogNamePattern?: string;
  excludeCatalogIds: string[];
}

export interface RolloutTarget {
  catalogId: string;
  catalogName: string;
  state?: string;
  imageId?: string;
}

/**
 * The image and the catalogs of a rollout, column by column (entry `i` of each column is target `i`, in order;
 * `currentImages` indexes `images`, -1 for none), so that 5,000 targets stay a small payload.
 */
export interface ResolvedTargets {
  imageId: string;
  imageName: string;
  catalogIds: string[];
  catalogNames: string[];
  states: string[];
  currentImages: number[];
  images: string[];
  /** The first catalogs left out and why (`skippedCount` counts them all). */
  skipped: Array<{ catalogId: string; reason: string }>;
  skippedCount: number;
}

/** The catalogs a restore returns, each to the image it had before (`restoreImages` indexes `images`). */
export interface RestoreTargets {
  catalogIds: string[];
  catalogNames: string[];
  restoreImages: number[];
  /** The image each catalog runs now (the one the rollout set): absent in answers recorded before it was read. */
  currentImages?: number[];
  images: string[];
  /** Catalogs the rollout moved that are left as they are, and why (the first of them). */
  skipped?: Array<{ catalogId: string; reason: string }>;
  skippedCount?: number;
}

export interface WindowStatus {
  open: boolean;
  /** Milliseconds until the window next opens (when closed). */
  opensInMs?: number;
}

export type RolloutEvent = 'waveStarted' | 'approvalNeeded' | 'catalogFailed' | 'halted' | 'completed' | 'aborted';

export interface RolloutNotification {
  event: RolloutEvent;
  rolloutId: string;
  text: string;
}

/** A notification gives up after this long, whatever the receiver does (undici's own timeouts are idle timeouts). */
export const WEBHOOK_DEADLINE_MS = 10_000;
/** What is read of a receiver's answer before the connection is dropped. */
const WEBHOOK_MAX_ANSWER_BYTES = 16 * 1024;

export function createRolloutActivities({ citrix, webhookUrl }: RolloutActivityDependencies) {
  const webhookProblem = webhookUrl === undefined ? undefined : outboundUrlProblem(webhookUrl, 'the webhook URL');
  if (webhookProblem) throw new Error(webhookProblem);
  const dispatcher = webhookUrl ? outboundDispatcher('the webhook host') : undefined;

  async function chooseImage(req: ResolveTargetsRequest): Promise<TemplateImage> {
    if (req.imageId) {
      const imageId = req.imageId;
      return citrixCall(
        () => citrix.getImage(imageId),
        (error) =>
          error instanceof CitrixNotFoundError
            ? ApplicationFailure.nonRetryable(`image ${imageId} was not found`, FailureType.ImageNotFound)
            : undefined,
      );
    }
    const matches = namePattern(req.imageNamePattern ?? '');
    const images = await citrixCall(() => citrix.listImages());
    const newest = images
      .filter((image) => image.state === 'Ready' && !image.isDeprecated && matches(image.name))
      .sort((a, b) => String(b['createdDate'] ?? '').localeCompare(String(a['createdDate'] ?? '')))[0];
    if (!newest) {
      throw ApplicationFailure.nonRetryable(
        `no Ready, current image has a name matching /${req.imageNamePattern}/: check the pattern ` +
          `(the starter's "images" command lists the images)`,
        FailureType.ImageNotFound,
      );
    }
    return newest;
  }

  return {
    /** Picks the image and the catalogs of a rollout, and says which requested catalogs are left out and why. */
    async resolveRolloutTargets(req: ResolveTargetsRequest): Promise<ResolvedTargets> {
      const image = await chooseImage(req);
      if (image.state !== 'Ready' || image.isDeprecated) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is ${image.isDeprecated ? 'deprecated' : `in state ${image.state}`}: ` +
            `roll out a Ready, current image`,
          FailureType.ImageNotUsable,
        );
      }
      const catalogs = await citrixCall(() => citrix.listCatalogs());
      const byId = new Map(catalogs.map((catalog) => [catalog.id.toLowerCase(), catalog]));
      const excluded = new Set(req.excludeCatalogIds.map((id) => id.toLowerCase()));
      const skipped: ResolvedTargets['skipped'] = [];
      let wanted: string[];
      if (req.allCatalogs) {
        const matches = req.catalogNamePattern ? namePattern(req.catalogNamePattern) : () => true;
        wanted = catalogs
          .filter((catalog) => matches(catalog.name))
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((catalog) => catalog.id);
      } else {
        wanted = [...new Set(req.catalogIds ?? [])];
      }
      const targets: RolloutTarget[] = [];
      let skippedCount = 0;
      const skip = (catalogId: string, reason: string) => {
        skippedCount += 1;
        if (skipped.length < ROLLOUT_LIMITS.skippedListed) skipped.push({ catalogId, reason });
      };
      for (const id of wanted) {
        const catalog = byId.get(id.toLowerCase());
        if (excluded.has(id.toLowerCase())) skip(id, 'excluded');
        else if (!catalog) skip(id, 'not found in the site');
        else {
          targets.push({
            catalogId: catalog.id,
            catalogName: catalog.name,
            state: catalog.state,
            imageId: catalog.imageId,
          });
        }
      }
      if (targets.length > ROLLOUT_LIMITS.targets) {
        throw ApplicationFailure.nonRetryable(
          `the rollout resolves to ${targets.length} catalogs, more than the ${ROLLOUT_LIMITS.targets} one rollout ` +
            `may hold: narrow it (--name-pattern, --exclude) or split the catalogs over several rollouts`,
          FailureType.InvalidInput,
        );
      }
      const column = imageColumn();
      return {
        imageId: image.id,
        imageName: truncateText(image.name, ROLLOUT_LIMITS.nameChars),
        catalogIds: targets.map((t) => t.catalogId),
        catalogNames: targets.map((t) => truncateText(t.catalogName, ROLLOUT_LIMITS.nameChars)),
        states: targets.map((t) => t.state ?? ''),
        currentImages: targets.map((t) => column.index(t.imageId)),
        images: column.images,
        skipped,
        skippedCount,
      };
    },

    /**
     * The catalogs a finished rollout moved, each with the image it had before: what a restore returns them to. A
     * rollout that still runs is asked to roll back itself instead (the `rollback` signal).
     */
    async loadRolloutToRestore(rolloutId: string): Promise<RestoreTargets> {
      const handle = getClient().workflow.getHandle(rolloutWorkflowId(rolloutId));
      let progress: RolloutResult | LegacyRolloutProgress | undefined;
      try {
        const description = await handle.describe();
        if (description.status.name === 'RUNNING') {
          throw ApplicationFailure.nonRetryable(
            `rollout ${rolloutId} is still running: send it the rollback signal instead`,
            FailureType.InvalidInput,
          );
        }
        progress = (await handle.result()) as RolloutResult;
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        if (error instanceof WorkflowFailedError)
          progress = (error.cause as ApplicationFailure)?.details?.[0] as RolloutResult | undefined;
        else if ((error as Error)?.name === 'WorkflowNotFoundError') {
          throw ApplicationFailure.nonRetryable(`no rollout ${rolloutId} was found`, FailureType.InvalidInput);
        } else throw error;
      }
      const moved = (progress ? catalogsOf(progress) : []).filter((c) => movedByRollout(c.state) && c.previousImageId);
      // A catalog moved on since (by hand, or by a later rollout) is not this rollout's to undo: it is left alone.
      const current = new Map(
        (await citrixCall(() => citrix.listCatalogs())).map((c) => [c.id.toLowerCase(), c.imageId] as const),
      );
      const skipped: NonNullable<RestoreTargets['skipped']> = [];
      let skippedCount = 0;
      const skip = (catalogId: string, reason: string) => {
        skippedCount += 1;
        if (skipped.length < ROLLOUT_LIMITS.skippedListed) skipped.push({ catalogId, reason });
      };
      const restorable = moved.filter((c) => {
        const setImage = c.targetImageId ?? progress?.imageId;
        const now = current.get(c.catalogId.toLowerCase());
        if (!current.has(c.catalogId.toLowerCase())) skip(c.catalogId, 'no longer in the site');
        else if (!sameId(now, setImage)) {
          skip(
            c.catalogId,
            `now runs image ${now ?? 'unknown'}, not ${setImage ?? 'the one'} this rollout set: left as it is`,
          );
        } else return true;
        return false;
      });
      const column = imageColumn();
      return {
        catalogIds: restorable.map((c) => c.catalogId),
        catalogNames: restorable.map((c) => c.catalogName ?? c.catalogId),
        restoreImages: restorable.map((c) => column.index(c.previousImageId)),
        currentImages: restorable.map((c) => column.index(current.get(c.catalogId.toLowerCase()))),
        images: column.images,
        skipped,
        skippedCount,
      };
    },

    /** Whether a recurring maintenance window is open now, and if not, when it next opens. */
    async maintenanceWindowStatus(window: MaintenanceWindow): Promise<WindowStatus> {
      return windowStatus(window, Date.now());
    },

    /**
     * Posts a notification to the configured webhook; without one it does nothing. The whole exchange ends within
     * `WEBHOOK_DEADLINE_MS`, or as soon as the activity is cancelled; errors never quote the URL (it is the secret).
     */
    async notifyRollout(notification: RolloutNotification): Promise<void> {
      if (!webhookUrl) return;
      const { cancellationSignal } = Context.current();
      const signal = AbortSignal.any([cancellationSignal, AbortSignal.timeout(WEBHOOK_DEADLINE_MS)]);
      let status: number;
      try {
        const response = await request(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          // `text` is what Slack and Teams incoming webhooks display; the rest helps other receivers.
          body: JSON.stringify({ ...notification, text: `[${notification.rolloutId}] ${notification.text}` }),
          dispatcher,
          signal,
        });
        status = response.statusCode;
        await response.body.dump({ limit: WEBHOOK_MAX_ANSWER_BYTES });
      } catch (error) {
        if (cancellationSignal.aborted)
          throw new CancelledFailure('notification abandoned: the activity was cancelled');
        const reason = signal.aborted
          ? `no answer within ${WEBHOOK_DEADLINE_MS} ms`
          : ((error as { code?: string }).code ?? (error as Error).name);
        throw ApplicationFailure.create({
          message: `the notification webhook failed (${reason})`,
          type: 'NotifyFailed',
        });
      }
      if (status >= 300) {
        log.warn('notification webhook refused the message', { status, event: notification.event });
        throw ApplicationFailure.create({ message: `webhook answered ${status}`, type: 'NotifyFailed' });
      }
    },
  };
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;

function namePattern(pattern: string): (name: string) => boolean {
  const problem = namePatternProblem(pattern);
  if (problem) throw ApplicationFailure.nonRetryable(problem, FailureType.InvalidInput);
  return compileNamePattern(pattern);
}

/** Whether a catalog in this state can take an image update now. */
export function canUpdate(state?: string): boolean {
  return state === undefined || SETTLED_STATES.has(state);
}

function minutesOf(clock: string): number {
  const [hours, minutes] = clock.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}

/** Weekday and minute of the day at `ms` in the window's time zone (DST included, through the runtime's ICU data). */
function localTime(format: Intl.DateTimeFormat, ms: number): { day: number; minute: number } {
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  return {
    day: WEEKDAYS.indexOf(parts['weekday'] as (typeof WEEKDAYS)[number]),
    minute: Number(parts['hour']) * 60 + Number(parts['minute']),
  };
}

export function windowStatus(window: MaintenanceWindow, nowMs: number): WindowStatus {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: window.timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    throw ApplicationFailure.nonRetryable(
      `unknown time zone "${window.timeZone}" in the maintenance window: use an IANA name such as Europe/Berlin`,
      FailureType.InvalidInput,
    );
  }
  const days = new Set(window.days.map((day) => WEEKDAYS.indexOf(day)));
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const isOpen = (ms: number) => {
    const { day, minute } = localTime(format, ms);
    if (start < end) return days.has(day) && minute >= start && minute < end;
    // The window runs past midnight: open late on a listed day, or early on the day after one.
    return (days.has(day) && minute >= start) || (days.has((day + 6) % 7) && minute < end);
  };
  if (isOpen(nowMs)) return { open: true };
  const firstMinute = Math.ceil(nowMs / MINUTE) * MINUTE;
  for (let ms = firstMinute; ms <= nowMs + 8 * 24 * 60 * MINUTE; ms += MINUTE) {
    if (isOpen(ms)) return { open: false, opensInMs: ms - nowMs };
  }
  throw ApplicationFailure.nonRetryable('the maintenance window never opens', FailureType.InvalidInput);
}
