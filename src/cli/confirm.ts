/** The question a command asks before it changes many catalogs at once, and its answer for scripts (`--yes`). */
import { createInterface } from 'node:readline/promises';
import { CommandError, ExitCode } from './output';

async function ask(question: string): Promise<boolean> {
  // Without a terminal nobody can answer: a script says `--yes` instead of piping "y" into the command.
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Goes on when `yes` is given or the operator answers yes on the terminal; otherwise ends the command with exit 2,
 * nothing changed. `rerunTo` completes "run again with --yes to …".
 */
export async function confirmOrRefuse(yes: boolean, question: string, rerunTo: string): Promise<void> {
  if (yes || (await ask(question))) return;
  throw new CommandError(
    process.stdin.isTTY
      ? 'not confirmed: nothing was changed'
      : `not confirmed (no terminal to ask on): run again with --yes to ${rerunTo}`,
    ExitCode.BadInput,
  );
}
