import type { MetricMeter } from '@temporalio/common';
import type { InjectedSinks } from '@temporalio/worker';
import type { CitrixExchange } from '../citrix';
import type { ObservabilitySinks, WorkflowOutcome } from './workflow-interceptors';

/** The project's own metrics, served beside the SDK's `temporal_*` metrics on the runtime's Prometheus endpoint. */
export const METRIC_NAMES = {
  workflowsStarted: 'catalog_rollout_workflows_started_total',
  workflowsCompleted: 'catalog_rollout_workflows_completed_total',
  workflowsFailed: 'catalog_rollout_workflows_failed_total',
  workflowsCancelled: 'catalog_rollout_workflows_cancelled_total',
  catalogUpdateDuration: 'catalog_rollout_catalog_update_duration_seconds',
  citrixRequests: 'catalog_rollout_citrix_requests_total',
  citrixRequestDuration: 'catalog_rollout_citrix_request_duration_ms',
  citrixRateLimited: 'catalog_rollout_citrix_rate_limited_total',
  citrixBudgetWorkers: 'catalog_rollout_citrix_budget_workers',
  citrixBudgetShare: 'catalog_rollout_citrix_budget_share',
  activityRetries: 'catalog_rollout_activity_retries_total',
  activityErrors: 'catalog_rollout_activity_errors_total',
} as const;

/** Bucket bounds for `Runtime.install({ telemetryOptions: { metrics: { prometheus: { histogramBucketOverrides } } } })`. */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  // An image update takes minutes to hours.
  [METRIC_NAMES.catalogUpdateDuration]: [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400],
  [METRIC_NAMES.citrixRequestDuration]: [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000],
};

/** The workflow type whose completions feed the catalog update duration histogram. */
const CATALOG_UPDATE_WORKFLOW = 'updateCatalogImage';

/** Result outcomes are short enum-like words; anything else would be an unbounded label. */
const label = (value: string | undefined, fallback: string) =>
  value && /^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(value) ? value : fallback;

export class WorkerMetrics {
  private readonly workflowsStarted;
  private readonly workflowsFinished;
  private readonly catalogUpdateDuration;
  private readonly citrixRequests;
  private readonly citrixRequestDuration;
  private readonly citrixRateLimited;
  private readonly citrixBudgetWorkers;
  private readonly citrixBudgetShare;
  private readonly activityRetries;
  private readonly activityErrors;

  constructor(meter: MetricMeter) {
    this.workflowsStarted = meter.createCounter(
      METRIC_NAMES.workflowsStarted,
      'workflows',
      'Workflow executions started (first run of a chain), by workflow_type',
    );
    this.workflowsFinished = {
      completed: meter.createCounter(METRIC_NAMES.workflowsCompleted, 'workflows', 'Workflow executions completed'),
      failed: meter.createCounter(METRIC_NAMES.workflowsFailed, 'workflows', 'Workflow executions failed'),
      cancelled: meter.createCounter(METRIC_NAMES.workflowsCancelled, 'workflows', 'Workflow executions cancelled'),
    };
    this.catalogUpdateDuration = meter.createHistogram(
      METRIC_NAMES.catalogUpdateDuration,
      'float',
      's',
      'Duration of updateCatalogImage executions from start (across continue-as-new) to their end, by outcome',
    );
    this.citrixRequests = meter.createCounter(
      METRIC_NAMES.citrixRequests,
      'requests',
      'HTTP exchanges with Citrix Cloud, by operation, method and status ("error": no answer)',
    );
    this.citrixRequestDuration = meter.createHistogram(
      METRIC_NAMES.citrixRequestDuration,
      'float',
      'ms',
      'Duration of HTTP exchanges with Citrix Cloud, by operation',
    );
    this.citrixRateLimited = meter.createCounter(
      METRIC_NAMES.citrixRateLimited,
      'requests',
      'Citrix Cloud answers 429 Too Many Requests, by operation',
    );
    this.citrixBudgetWorkers = meter.createGauge(
      METRIC_NAMES.citrixBudgetWorkers,
      'int',
      'workers',
      'Workers sharing the Citrix request budget (polling the task queue in the last minute), as this worker counts them',
    );
    this.citrixBudgetShare = meter.createGauge(
      METRIC_NAMES.citrixBudgetShare,
      'float',
      'requests/s',
      "This worker's Citrix requests per second: its share of the budget, lowered for a while after a 429",
    );
    this.activityRetries = meter.createCounter(
      METRIC_NAMES.activityRetries,
      'attempts',
      'Activity attempts after the first, by activity_type (pollCatalogUpdate polls by retrying: each poll counts)',
    );
    this.activityErrors = meter.createCounter(
      METRIC_NAMES.activityErrors,
      'attempts',
      'Activity attempts that ended in an error (not counting benign "not done yet" polls), by activity_type and error_type',
    );
  }

  /** For `new CitrixClient({ onExchange })`. */
  readonly citrixExchange = (exchange: CitrixExchange): void => {
    const tags = { operation: exchange.operation, method: exchange.method, status: String(exchange.status) };
    this.citrixRequests.add(1, tags);
    this.citrixRequestDuration.record(exchange.durationMs, { operation: exchange.operation });
    if (exchange.status === 429) this.citrixRateLimited.add(1, { operation: exchange.operation });
  };

  /** For `BudgetShare`'s `onCount`. */
  readonly citrixBudget = (workers: number, budget: { shareNow(): number }): void => {
    this.citrixBudgetWorkers.set(workers);
    this.citrixBudgetShare.set(budget.shareNow());
  };

  activityAttempt(activityType: string, attempt: number): void {
    if (attempt > 1) this.activityRetries.add(1, { activity_type: activityType });
  }

  activityError(activityType: string, errorType: string): void {
    this.activityErrors.add(1, { activity_type: activityType, error_type: label(errorType, 'Error') });
  }

  workflowStarted(workflowType: string): void {
    this.workflowsStarted.add(1, { workflow_type: workflowType });
  }

  workflowFinished(workflowType: string, outcome: WorkflowOutcome, resultOutcome?: string, startTime?: Date): void {
    if (outcome === 'continuedAsNew') return;
    this.workflowsFinished[outcome].add(1, { workflow_type: workflowType });
    if (workflowType === CATALOG_UPDATE_WORKFLOW && startTime) {
      const seconds = Math.max(0, (Date.now() - startTime.getTime()) / 1000);
      const tag = outcome === 'completed' ? label(resultOutcome, 'completed') : outcome;
      this.catalogUpdateDuration.record(seconds, { outcome: tag });
    }
  }

  /** The worker side of the `observability` sink that the workflow interceptors call. */
  sinks(): InjectedSinks<ObservabilitySinks> {
    return {
      observability: {
        workflowStarted: { fn: (info) => this.workflowStarted(info.workflowType) },
        workflowFinished: {
          fn: (info, outcome, resultOutcome) =>
            this.workflowFinished(info.workflowType, outcome, resultOutcome, info.startTime),
        },
      },
    };
  }
}
