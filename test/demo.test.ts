import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnStarter } from './helpers';

const LINK =
  /Follow it in the Temporal UI: (http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/catalog-update-\S+)/;

/** `npm run demo` as a newcomer runs it: a process that starts everything, updates one catalog and says where to look. */
describe('the demo', () => {
  test("prints the Temporal UI's page of its workflow, which the UI serves while the demo runs", async () => {
    const demo = spawnStarter([], process.env, 'src/demo.ts');
    const link = LINK.exec(await demo.line((line) => LINK.test(line), 120_000))![1]!;
    const page = await fetch(link);
    assert.equal(page.status, 200, `the UI answers ${link}`);
    assert.match(await page.text(), /<html/i);
    const end = await demo.exit();
    assert.equal(end.code, 0, end.stdout + end.stderr);
    assert.match(end.stdout, /1 \$updateImage/);
    await assert.rejects(fetch(link), 'the UI stopped with the demo');
  });

  test('--keep leaves the server, its UI, the simulator and the worker up until Ctrl-C, then stops them all', async () => {
    const demo = spawnStarter(['--keep'], process.env, 'src/demo.ts');
    const link = LINK.exec(await demo.line((line) => LINK.test(line), 120_000))![1]!;
    await demo.line((line) => line.includes('Press Ctrl-C to stop them all'), 120_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal(demo.child.exitCode, null, 'still running after the update ended');
    assert.equal((await fetch(link)).status, 200, 'the UI is still there to look around');
    demo.child.kill('SIGINT');
    const end = await demo.exit();
    assert.equal(end.code, 0, end.stdout + end.stderr);
    await assert.rejects(fetch(link), 'nothing is left running');
  });

  test('an unknown option is refused, naming it and the one the demo has', async () => {
    const end = await spawnStarter(['--kep'], process.env, 'src/demo.ts').exit();
    assert.equal(end.code, 2);
    assert.match(end.stderr, /unknown option --kep.*--keep/);
  });
});
