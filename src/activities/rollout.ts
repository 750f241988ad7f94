import { getClient, log } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { request } from 'undici';
import { type CitrixClient, CitrixNotFoundError, type TemplateImage } from '../citrix';
import { FailureType } from '../shared';
import { type MaintenanceWindow, type RolloutProgress, WEEKDAYS, rolloutWorkflowId } from '../shared/rollout';
import { toApplicationFailure } from './index';

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

export interface ResolvedTargets {
  imageId: string;
  imageName: string;
  targets: RolloutTarget[];
  skipped: Array<{ catalogId: string; reason: string }>;
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

const SETTLED = new Set(['Active', 'InputRequired']);

export function createRolloutActivities({ citrix, webhookUrl }: RolloutActivityDependencies) {
  async function chooseImage(req: ResolveTargetsRequest): Promise<TemplateImage> {
    if (req.imageId) {
      try {
        return await citrix.getImage(req.imageId);
      } catch (error) {
        if (error instanceof CitrixNotFoundError) {
          throw ApplicationFailure.nonRetryable(`image ${req.imageId} was not found`, FailureType.ImageNotFound);
        }
        throw toApplicationFailure(error);
      }
    }
    const pattern = new RegExp(req.imageNamePattern ?? '', 'i');
    const images = await citrix.listImages().catch((error: unknown) => {
      throw toApplicationFailure(error);
    });
    const newest = images
      .filter((image) => image.state === 'Ready' && !image.isDeprecated && pattern.test(image.name))
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
      const catalogs = await citrix.listCatalogs().catch((error: unknown) => {
        throw toApplicationFailure(error);
      });
      const byId = new Map(catalogs.map((catalog) => [catalog.id.toLowerCase(), catalog]));
      const excluded = new Set(req.excludeCatalogIds.map((id) => id.toLowerCase()));
      const skipped: ResolvedTargets['skipped'] = [];
      let wanted: string[];
      if (req.allCatalogs) {
        const pattern = req.catalogNamePattern ? new RegExp(req.catalogNamePattern, 'i') : undefined;
        wanted = catalogs
          .filter((catalog) => !pattern || pattern.test(catalog.name))
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((catalog) => catalog.id);
      } else {
        wanted = [...new Set(req.catalogIds ?? [])];
      }
      const targets: RolloutTarget[] = [];
      for (const id of wanted) {
        const catalog = byId.get(id.toLowerCase());
        if (excluded.has(id.toLowerCase())) skipped.push({ catalogId: id, reason: 'excluded' });
        else if (!catalog) skipped.push({ catalogId: id, reason: 'not found in the site' });
        else {
          targets.push({
            catalogId: catalog.id,
            catalogName: catalog.name,
            state: catalog.state,
            imageId: catalog.imageId ?? undefined,
          });
        }
      }
      return { imageId: image.id, imageName: image.name, targets, skipped };
    },

    /**
     * The catalogs a finished rollout moved, each with the image it had before: what a restore returns them to. A
     * rollout that still runs is asked to roll back itself instead (the `rollback` signal).
     */
    async loadRolloutToRestore(
      rolloutId: string,
    ): Promise<Array<{ catalogId: string; catalogName: string; restoreImageId: string }>> {
      const handle = getClient().workflow.getHandle(rolloutWorkflowId(rolloutId));
      let progress: RolloutProgress | undefined;
      try {
        const description = await handle.describe();
        if (description.status.name === 'RUNNING') {
          throw ApplicationFailure.nonRetryable(
            `rollout ${rolloutId} is still running: send it the rollback signal instead`,
            FailureType.InvalidInput,
          );
        }
        progress = (await handle.result()) as RolloutProgress;
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        if (error instanceof WorkflowFailedError)
          progress = (error.cause as ApplicationFailure)?.details?.[0] as RolloutProgress;
        else if ((error as Error)?.name === 'WorkflowNotFoundError') {
          throw ApplicationFailure.nonRetryable(`no rollout ${rolloutId} was found`, FailureType.InvalidInput);
        } else throw error;
      }
      return (progress?.catalogs ?? [])
        .filter((c) => c.state === 'updated' && c.previousImageId)
        .map((c) => ({
          catalogId: c.catalogId,
          catalogName: c.catalogName ?? c.catalogId,
          restoreImageId: c.previousImageId!,
        }));
    },

    /** Whether a recurring maintenance window is open now, and if not, when it next opens. */
    async maintenanceWindowStatus(window: MaintenanceWindow): Promise<WindowStatus> {
      return windowStatus(window, Date.now());
    },

    /** Posts a notification to the configured webhook; without one it does nothing. */
    async notifyRollout(notification: RolloutNotification): Promise<void> {
      if (!webhookUrl) return;
      const response = await request(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // `text` is what Slack and Teams incoming webhooks display; the rest helps other receivers.
        body: JSON.stringify({ ...notification, text: `[${notification.rolloutId}] ${notification.text}` }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await response.body.dump();
      if (response.statusCode >= 300) {
        log.warn('notification webhook refused the message', {
          status: response.statusCode,
          event: notification.event,
        });
        throw ApplicationFailure.create({ message: `webhook answered ${response.statusCode}`, type: 'NotifyFailed' });
      }
    },
  };
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;

/** Whether a catalog in this state can take an image update now. */
export function canUpdate(state?: string): boolean {
  return state === undefined || SETTLED.has(state);
}

const MINUTE_MS = 60_000;

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
  const firstMinute = Math.ceil(nowMs / MINUTE_MS) * MINUTE_MS;
  for (let ms = firstMinute; ms <= nowMs + 8 * 24 * 60 * MINUTE_MS; ms += MINUTE_MS) {
    if (isOpen(ms)) return { open: false, opensInMs: ms - nowMs };
  }
  throw ApplicationFailure.nonRetryable('the maintenance window never opens', FailureType.InvalidInput);
}
