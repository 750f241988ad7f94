/** The command line operators use: `npm run starter -- <command>` (see `src/cli/`). */
import { runCli } from './cli/program';

export { buildProgram, runCli } from './cli/program';

if (require.main === module) {
  void runCli(process.argv).then((code) => process.exit(code));
}
