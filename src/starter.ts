import { Command, CommanderError, Option } from 'commander';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type WorkflowHandle,
} from '@temporalio/client';
import { CitrixClient, isGuid } from './citrix';
import { ConfigError, SECRET_VARIABLES, loadCitrixConfig } from './config';
import { createRedactor } from './observability/logger';
import { duration, integer, print, withClient } from './cli-support';
import { addOperationCommands } from './operations-cli';
import { describeStatus, explainFailure, watchUpdate } from './progress';
import {
  type CatalogUpdateResult,
  InvalidInputError,
  type UpdateCatalogImageInput,
  type UpdateCatalogImageRequest,
  catalogUpdateWorkflowId,
  deadlineProblem,
  parseUpdateCatalogImageInput,
} from './shared';
import { SearchAttributes } from './shared/rollout';
import { PRODUCT_VERSION } from './shared/version';
import { statusQuery, updateCatalogImage } from './workflows';

export class CatalogBusyError extends Error {
  override name = 'CatalogBusyError';
}

/** The namespace lacks the project's search attributes: the one command that fixes it. */
export class SearchAttributesMissingError extends Error {
  override name = 'SearchAttributesMissingError';
  constructor(namespace: string, cause: unknown) {
    super(
      `the Temporal namespace ${namespace} has no search attribute ${Object.keys(SearchAttributes).join(', ')}: ` +
        `register them once with: for name in ${Object.keys(SearchAttributes).join(' ')}; do temporal operator ` +
        `search-attribute create --namespace ${namespace} --name $name --type Keyword; done`,
      { cause },
    );
  }
}

/** The server's answer, somewhere in the error's causes, that a search attribute is not registered. */
function isMissingSearchAttribute(error: unknown): boolean {
  for (let cause = error as Error | undefined; cause; cause = cause.cause as Error | undefined) {
    if (/no mapping defined for search attribute|search attribute \S+ is not defined/i.test(String(cause.message))) {
      return true;
    }
  }
  return false;
}

export interface StartedUpdate {
  handle: WorkflowHandle<typeof updateCatalogImage>;
  /** An update of the same catalog to the same image was already running; this handle is that one. */
  attached: boolean;
}

/**
 * Starts the update of one catalog under the catalog's own workflow id. A second start for a catalog that is already
 * updating attaches to the running update when it targets the same image, and is refused otherwise: a catalog is
 * never posted to twice.
 */
export async function startCatalogUpdate(
  client: Client,
  taskQueue: string,
  input: UpdateCatalogImageInput,
): Promise<StartedUpdate> {
  const request: UpdateCatalogImageRequest = parseUpdateCatalogImageInput(input);
  const delayProblem = deadlineProblem(request);
  if (delayProblem) throw new InvalidInputError([delayProblem]);
  const workflowId = catalogUpdateWorkflowId(request.catalogId);
  try {
    const handle = await client.workflow.start(updateCatalogImage, {
      taskQueue,
      workflowId,
      args: [request],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      // What `list --catalog` and `--image` (and the Temporal UI's queries) find an update by.
      typedSearchAttributes: [
        { key: SearchAttributes.CatalogId, value: request.catalogId },
        { key: SearchAttributes.ImageId, value: request.imageId },
      ],
      memo: { catalogId: request.catalogId, imageId: request.imageId },
    });
    return { handle, attached: false };
  } catch (error) {
    if (isMissingSearchAttribute(error)) throw new SearchAttributesMissingError(client.options.namespace, error);
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    const handle = client.workflow.getHandle<typeof updateCatalogImage>(workflowId);
    const running = await handle.describe();
    const runningImage = (running.memo as { imageId?: string } | undefined)?.imageId;
    if (runningImage?.toLowerCase() === request.imageId.toLowerCase()) return { handle, attached: true };
    throw new CatalogBusyError(
      `catalog ${request.catalogId} is already being updated to image ${runningImage ?? 'unknown'} by workflow ` +
        `${workflowId}: wait for it to finish ("status ${workflowId}") or cancel it ("cancel ${workflowId}") first`,
    );
  }
}

function workflowIdFor(idOrCatalog: string): string {
  return isGuid(idOrCatalog) ? catalogUpdateWorkflowId(idOrCatalog) : idOrCatalog;
}

function printResult(json: boolean, result: CatalogUpdateResult): void {
  print(json, { event: 'result', ...result }, `${result.outcome}: ${result.message}`);
}

async function withCitrix<T>(fn: (citrix: CitrixClient) => Promise<T>): Promise<T> {
  const citrix = new CitrixClient(loadCitrixConfig().client);
  try {
    return await fn(citrix);
  } finally {
    await citrix.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('catalog-rollout')
    .description('Roll a new master image out to Citrix DaaS Quick Deploy catalogs, durably, with Temporal.')
    .version(PRODUCT_VERSION)
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nTemporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE (see README).\n' +
        'The "catalogs" and "images" commands also need CITRIX_CUSTOMER_ID, CITRIX_CLIENT_ID, CITRIX_CLIENT_SECRET.',
    );

  program
    .command('start')
    .description('start the image update of one catalog and print its workflow id')
    .requiredOption('--catalog <id>', 'catalog id (GUID)')
    .requiredOption('--image <id>', 'template image id to move the catalog to')
    .addOption(
      new Option('--vda-update-delay <minutes>', '-1 next shutdown, 0 restart now, N spread restarts over N minutes')
        .argParser(integer)
        .default(-1),
    )
    .option('--warning-title <text>', 'title of the restart warning shown to users')
    .option('--warning-message <text>', 'restart warning shown to users (%m% = minutes left)')
    .option('--citrix-prepared', 'assert that the image is prepared by Citrix (by default the image says so itself)')
    .addOption(
      new Option('--poll-interval <duration>', 'how often to read the catalog')
        .argParser(duration)
        .default(30_000, '30s'),
    )
    .addOption(
      new Option('--deadline <duration>', 'fail if the update has not finished by then')
        .argParser(duration)
        .default(6 * 3_600_000, '6h'),
    )
    .addOption(
      new Option('--start-timeout <duration>', 'how long the catalog may show no sign of the update after the post')
        .argParser(duration)
        .default(600_000, '10m'),
    )
    .option('--requested-by <name>', 'who asked for it (recorded in the workflow input)')
    .option('--wait', 'show progress until the update ends; exit non-zero if it fails', false)
    .option('--json', 'print JSON lines for scripts', false)
    .action(async (options) => {
      // Bad input is reported before anything, even the Temporal connection, is tried.
      const request = parseUpdateCatalogImageInput({
        catalogId: options.catalog,
        imageId: options.image,
        citrixPrepared: options.citrixPrepared,
        vdaUpdateDelayMinutes: options.vdaUpdateDelay,
        warningTitle: options.warningTitle,
        warningMessage: options.warningMessage,
        pollIntervalMs: options.pollInterval,
        deadlineMs: options.deadline,
        startTimeoutMs: options.startTimeout,
        requestedBy: options.requestedBy,
      });
      const delayProblem = deadlineProblem(request);
      if (delayProblem) throw new InvalidInputError([delayProblem]);
      await withClient(async (client, taskQueue) => {
        const { handle, attached } = await startCatalogUpdate(client, taskQueue, request);
        print(
          options.json,
          { event: attached ? 'attached' : 'started', workflowId: handle.workflowId },
          attached
            ? `already updating to this image; attached to ${handle.workflowId}`
            : `started ${handle.workflowId}`,
        );
        if (options.wait) printResult(options.json, await watchUpdate(handle, { json: options.json }));
      });
    });

  program
    .command('status')
    .description('show the status of an update (workflow id or catalog id)')
    .argument('<id>', 'workflow id, or the catalog id')
    .option('--json', 'print JSON', false)
    .action(async (id: string, options) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle<typeof updateCatalogImage>(workflowIdFor(id));
        const description = await handle.describe();
        const status = await handle.query(statusQuery).catch(() => undefined);
        let outcome: unknown;
        if (description.status.name === 'COMPLETED') outcome = await handle.result();
        if (description.status.name === 'FAILED')
          outcome = { error: await handle.result().catch((e) => explainFailure(e).message) };
        print(
          options.json,
          { workflowId: handle.workflowId, workflowStatus: description.status.name, status, outcome },
          [
            `${handle.workflowId}: ${description.status.name}`,
            status ? describeStatus(status) : '(status unavailable: is a worker running?)',
            outcome ? JSON.stringify(outcome, null, 2) : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      });
    });

  program
    .command('cancel')
    .description(
      'cancel an update: before the post nothing happens; after it, Citrix keeps updating and the watch stops',
    )
    .argument('<id>', 'workflow id, or the catalog id')
    .option('--json', 'print JSON', false)
    .action(async (id: string, options) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle<typeof updateCatalogImage>(workflowIdFor(id));
        await handle.cancel();
        try {
          printResult(options.json, await handle.result());
        } catch (error) {
          const message = explainFailure(error).message;
          print(options.json, { event: 'cancelled', workflowId: handle.workflowId, message }, `cancelled: ${message}`);
        }
      });
    });

  program
    .command('catalogs')
    .description('list the catalogs of the Citrix site (needs Citrix credentials)')
    .option('--json', 'print JSON', false)
    .action(async (options) => {
      await withCitrix(async (citrix) => {
        const catalogs = await citrix.listCatalogs();
        print(
          options.json,
          catalogs,
          catalogs.map((c) => `${c.id}  ${String(c.state ?? '').padEnd(13)} ${c.name}`).join('\n'),
        );
      });
    });

  program
    .command('images')
    .description('list the template images of the Citrix site (needs Citrix credentials)')
    .option('--json', 'print JSON', false)
    .action(async (options) => {
      await withCitrix(async (citrix) => {
        const images = await citrix.listImages();
        print(
          options.json,
          images,
          images
            .map((i) => `${i.id}  ${String(i.state).padEnd(10)} ${i.name}${i.isDeprecated ? ' (deprecated)' : ''}`)
            .join('\n'),
        );
      });
    });

  addOperationCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .then(
      () => process.exit(0),
      (error: unknown) => {
        if (error instanceof CommanderError) {
          // Commander has printed the problem (or the help) already.
          process.exit(error.exitCode === 0 ? 0 : 2);
        }
        const usage = error instanceof ConfigError || error instanceof InvalidInputError;
        // Defence in depth: messages are built from redacted text, but a dependency's error might quote a request.
        const redact = createRedactor(SECRET_VARIABLES.map((name) => process.env[name]));
        console.error(redact(`catalog-rollout: ${(error as Error)?.message ?? error}`));
        process.exit(usage ? 2 : 1);
      },
    );
}
