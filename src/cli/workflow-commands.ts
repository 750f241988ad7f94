/** list, retry and history export: finding workflows, starting failed ones again, saving histories. */
import { chmod, writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { exportHistory, listWorkflows, retryWorkflow } from '../client';
import { withClient } from './context';
import { Output, table } from './output';

export function addWorkflowCommands(program: Command): void {
  program
    .command('list')
    .description('find updates and rollouts by status, catalog, image or rollout (search attributes)')
    .option('--running', 'only running ones', false)
    .option('--failed', 'only failed, timed-out or terminated ones', false)
    .option('--catalog <id>', 'catalog id')
    .option('--image <id>', 'image id')
    .option('--rollout <id>', 'rollout id')
    .addOption(new Option('--type <type>', 'only catalog updates or only rollouts').choices(['update', 'rollout']))
    .option('--json', 'print JSON', false)
    .action(async (options, command: Command) => {
      await withClient(command, async (client) => {
        const found = await listWorkflows(client, {
          running: options.running,
          failed: options.failed,
          catalogId: options.catalog,
          imageId: options.image,
          rolloutId: options.rollout,
          type: options.type,
        });
        const rows = found.map((w) => ({
          workflowId: w.workflowId,
          type: w.type,
          status: w.status.name,
          startTime: w.startTime.toISOString(),
          closeTime: w.closeTime?.toISOString(),
        }));
        if (options.json) console.log(JSON.stringify(rows));
        else console.log(table(rows.map((r) => [r.status, r.type, r.startTime, r.workflowId])) || '(none)');
      });
    });

  program
    .command('retry')
    .description('start a fresh run of a failed or timed-out workflow from its recorded input')
    .argument('<workflowId>', 'workflow id')
    .option('--json', 'print JSON', false)
    .action(async (workflowId: string, options, command: Command) => {
      const out = new Output(options.json);
      await withClient(command, async (client) => {
        const handle = await retryWorkflow(client, workflowId);
        out.event({ event: 'started', workflowId: handle.workflowId }, `started a new run of ${handle.workflowId}`);
      });
    });

  program
    .command('history')
    .description('workflow histories')
    .command('export')
    .description('save a history as JSON, for replay tests and bug reports')
    .argument('<workflowId>', 'workflow id')
    .option('--run <runId>', 'a particular run (default: the latest)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (workflowId: string, options, command: Command) => {
      await withClient(command, async (client) => {
        const json = await exportHistory(client, workflowId, options.run);
        // A history holds catalog names, images and messages: readable by its owner only.
        if (options.out) {
          await writeFile(options.out, json, { mode: 0o600 });
          await chmod(options.out, 0o600);
        } else console.log(json);
      });
    });
}
