/** Starting and finding rollouts. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { namePatternProblem } from '../activities/name-pattern';
import { InvalidInputError } from '../shared';
import {
  type RolloutInput,
  type RolloutRequest,
  SearchAttributes,
  parseRolloutInput as parseRolloutRequest,
  rolloutWorkflowId,
} from '../shared/rollout';
import {
  type SteeringOutcome,
  type SteeringStep,
  abortSignal,
  abortUpdate,
  pauseSignal,
  pauseUpdate,
  resumeSignal,
  resumeUpdate,
  rollbackSignal,
  rollbackUpdate,
  type rolloutImage,
} from '../workflows';
import { formatDuration } from '../shared/time';
import { isUnknownUpdate, updateRefusal } from './failures';
import { SearchAttributesMissingError, isMissingSearchAttribute } from './search-attributes';

export type RolloutHandle = WorkflowHandle<typeof rolloutImage>;

/**
 * Validates a rollout's input as the workflow will, plus its name patterns with the engine the worker matches them
 * with (RE2: no look-around, no back-references), so that such a pattern is refused before anything starts.
 */
export function parseRolloutInput(input: unknown): RolloutRequest {
  const request = parseRolloutRequest(input);
  const problems = (['imageNamePattern', 'catalogNamePattern'] as const).flatMap((field) => {
    const pattern = request[field];
    const problem = pattern === undefined ? undefined : namePatternProblem(pattern);
    return problem ? [`${field}: ${problem}`] : [];
  });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return request;
}

function defaultRolloutId(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** Starts a rollout under `rollout-<rolloutId>`; the id defaults to the start time. */
export async function startRollout(client: Client, taskQueue: string, input: RolloutInput): Promise<RolloutHandle> {
  const request = parseRolloutInput({ ...input, rolloutId: input.rolloutId ?? defaultRolloutId() });
  const rolloutId = request.rolloutId!;
  try {
    return await client.workflow.start<typeof rolloutImage>('rolloutImage', {
      taskQueue,
      workflowId: rolloutWorkflowId(rolloutId),
      args: [request],
      typedSearchAttributes: [
        { key: SearchAttributes.RolloutId, value: rolloutId },
        ...(request.imageId ? [{ key: SearchAttributes.ImageId, value: request.imageId }] : []),
      ],
      memo: { rolloutId, imageId: request.imageId ?? `newest matching /${request.imageNamePattern}/` },
      staticSummary: rolloutSummary(rolloutId, request),
      staticDetails: rolloutDetails(request),
    });
  } catch (error) {
    if (isMissingSearchAttribute(error)) {
      throw new SearchAttributesMissingError(client.options.namespace, undefined, error);
    }
    throw error;
  }
}

export function rolloutHandle(client: Client, rolloutId: string): RolloutHandle {
  return client.workflow.getHandle<typeof rolloutImage>(rolloutWorkflowId(rolloutId));
}

/** `Win11 24H2 → 40 catalogs (rollout nov-patch)`: what the Temporal UI shows for a rollout. */
export function rolloutSummary(rolloutId: string, request: RolloutRequest): string {
  const image = request.imageId ?? `the newest image matching /${request.imageNamePattern}/`;
  const targets = request.restoreRolloutId
    ? `the catalogs of rollout ${request.restoreRolloutId}, back to their images`
    : request.allCatalogs
      ? `every catalog${request.catalogNamePattern ? ` matching /${request.catalogNamePattern}/` : ''}`
      : `${(request.catalogIds ?? request.waves?.flat() ?? []).length} catalogs`;
  return `${request.restoreRolloutId ? 'restore' : image} → ${targets} (rollout ${rolloutId}${request.dryRun ? ', dry run' : ''})`;
}

export type SteeringName = 'pause' | 'resume' | 'abort' | 'rollback';

const STEERING_UPDATES = {
  pause: [pauseUpdate, pauseSignal],
  resume: [resumeUpdate, resumeSignal],
  abort: [abortUpdate, abortSignal],
  rollback: [rollbackUpdate, rollbackSignal],
} as const;

/** The rollout refused a steering request: its validator's reason, for the operator. */
export class SteeringRefusedError extends Error {
  override name = 'SteeringRefusedError';
}

/**
 * Steers a running rollout through the update of that name, which checks the request against the rollout's state and
 * answers where it stands; a rollout of a release without the updates gets the signal instead (answer `undefined`).
 */
export async function steerRollout(
  handle: RolloutHandle,
  action: SteeringName,
  step: SteeringStep,
): Promise<SteeringOutcome | undefined> {
  const [update, signal] = STEERING_UPDATES[action];
  try {
    return await handle.executeUpdate(update, { args: [step] });
  } catch (error) {
    const refusal = updateRefusal(error);
    if (!refusal) throw error;
    if (!isUnknownUpdate(refusal)) throw new SteeringRefusedError(refusal.message, { cause: error });
    await handle.signal(signal, step);
    return undefined;
  }
}

const APPROVALS: Record<RolloutRequest['approval'], string> = {
  none: 'no approval',
  afterCanary: 'approval after the canary',
  everyWave: 'approval before every wave',
};

/** How the rollout goes, as the Temporal UI shows it under the summary: waves, approvals, bake time, gates. */
export function rolloutDetails(request: RolloutRequest): string {
  // planWaves' rule: a percentage wins, else the count, which defaults to one.
  const canary = request.canaryPercent !== undefined ? `${request.canaryPercent} %` : String(request.canaryCount ?? 1);
  const waves = request.waves
    ? `${request.waves.length} explicit waves`
    : canary === '0'
      ? `Waves of ${request.batchSize}`
      : `A canary of ${canary}, then waves of ${request.batchSize}`;
  return [
    `${request.dryRun ? 'Dry run: ' : ''}${waves}, ${request.maxParallel} catalogs at a time; ${APPROVALS[request.approval]}.`,
    request.bakeTimeMs > 0 ? `Bakes ${formatDuration(request.bakeTimeMs)} after each wave.` : '',
    request.healthGate
      ? `Health gate: ${formatDuration(request.healthWaitMs)} to settle, ${request.minRegisteredPercent} % registered.`
      : 'No health gate.',
    `Halts past ${request.failureBudget} failed catalogs${request.rollbackOnHalt ? ', then rolls back' : ''}.`,
    request.startAt ? `Starts at ${request.startAt}.` : '',
  ]
    .filter(Boolean)
    .join('\n');
}
