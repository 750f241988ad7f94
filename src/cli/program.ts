/** The `catalog-rollout` command line: the program, its command groups, and how a run ends (README "Exit codes"). */
import { Command } from 'commander';
import { SECRET_VARIABLES } from '../config';
import { createRedactor } from '../observability/logger';
import { PRODUCT_VERSION } from '../shared/version';
import { addCitrixCommands } from './citrix-commands';
import { addConnectionOptions, startCliTracing } from './context';
import { ExitCode, describeError, isCommanderExit } from './output';
import { addRecallCommand } from './recall-commands';
import { addRolloutCommands } from './rollout-commands';
import { addScheduleCommands } from './schedule-commands';
import { addUpdateCommands } from './update-commands';
import { addWorkflowCommands } from './workflow-commands';

export function buildProgram(setExit: (code: ExitCode) => void = () => undefined): Command {
  const program = new Command('catalog-rollout')
    .description('Roll a new master image out to Citrix DaaS Quick Deploy catalogs, durably, with Temporal.')
    .version(PRODUCT_VERSION)
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nTemporal connection: the flags above, over TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE and the\n' +
        'other standard TEMPORAL_* variables, over a Temporal CLI profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE).\n' +
        'The "catalogs" and "images" commands also need CITRIX_CUSTOMER_ID, CITRIX_CLIENT_ID, CITRIX_CLIENT_SECRET.\n' +
        'Exit codes: 0 done, 1 failed/halted/aborted, 2 bad input (nothing changed), 3 could not tell.',
    );
  addConnectionOptions(program);
  addUpdateCommands(program, setExit);
  addRecallCommand(addRolloutCommands(program, setExit), setExit);
  addWorkflowCommands(program);
  addScheduleCommands(program);
  addCitrixCommands(program);
  return program;
}

/** Runs the command line and returns its exit code; errors are printed as their innermost cause, redacted. */
export async function runCli(argv: string[]): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.Done;
  const json = argv.includes('--json');
  let tracing: Awaited<ReturnType<typeof startCliTracing>>;
  try {
    tracing = await startCliTracing();
    await buildProgram((code) => (exitCode = code)).parseAsync(argv);
    return exitCode;
  } catch (error) {
    // Commander has printed the problem (or the help, or the version) already.
    if (isCommanderExit(error)) return error.exitCode === 0 ? ExitCode.Done : ExitCode.BadInput;
    const { exitCode: code, message, type } = describeError(error);
    // Defence in depth: messages are built from redacted text, but a dependency's error might quote a request.
    const redact = createRedactor(SECRET_VARIABLES.map((name) => process.env[name]));
    if (json) console.log(redact(JSON.stringify({ event: 'error', type, message, exitCode: code })));
    console.error(redact(`catalog-rollout: ${message}`));
    return code;
  } finally {
    // The process exits right after: send the spans of this command first.
    await tracing?.shutdown().catch(() => undefined);
  }
}
