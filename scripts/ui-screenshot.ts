/**
 * `npm run ui:screenshot`: the picture of a rollout in the Temporal UI that the README shows. Starts a dev server with
 * its UI, the simulator and a worker, all on 127.0.0.1; starts a rollout over four catalogs that holds for approval
 * after its canary; opens the rollout's page in headless Chromium, waits for its summary and current details, and
 * writes docs/images/ui-rollout.png. Everything stops by itself, within TIMEOUT_MS.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { type Page, chromium } from 'playwright-core';
import { CitrixClient } from '../src/citrix';
import { rolloutSummary, startRollout, parseRolloutInput } from '../src/client';
import { freeLoopbackPort, startLocalTemporal, workflowUiUrl } from '../src/dev/local-temporal';
import type { RolloutInput } from '../src/shared/rollout';
import { SEED_IDS, startSimulator } from '../src/simulator';
import { progressQuery } from '../src/workflows';
import { createCatalogWorker } from '../src/worker';

const TASK_QUEUE = 'catalog-rollout-ui-screenshot';
const OUTPUT = resolve(__dirname, '../docs/images/ui-rollout.png');
const TIMEOUT_MS = 5 * 60_000;
/** Debian's package; `CHROMIUM_PATH` points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function chromiumOrExplain(): string {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return CHROMIUM;
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get update && apt-get install -y chromium) ` +
        `or set CHROMIUM_PATH to a Chromium or Chrome binary`,
    );
  }
}

/** Waits until `text` shows on the page; the UI renders summaries and details as markdown inside frames of their own. */
async function waitForText(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const squash = (value: string) => value.replace(/\s+/g, ' ');
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const shown = await frame.innerText('body').catch(() => '');
      if (squash(shown).includes(squash(text))) return;
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`the UI did not show "${text}" within ${timeoutMs / 1000} s`);
}

async function main(): Promise<void> {
  const executablePath = chromiumOrExplain();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { catalogs, images } = SEED_IDS;
  const rollout: RolloutInput = {
    rolloutId: 'nov-patch',
    imageId: images.win11Nov,
    catalogIds: [catalogs.finance, catalogs.engineering, catalogs.hr, catalogs.legal],
    canaryCount: 1,
    batchSize: 3,
    approval: 'afterCanary',
    healthGate: false,
    pollIntervalMs: 1_000,
  };

  const uiPort = await freeLoopbackPort();
  const temporal = await startLocalTemporal({ uiPort });
  const simulator = await startSimulator({ updateDurationMs: 3_000, acceptLagMs: 200 });
  const citrix = new CitrixClient(simulator.clientOptions());
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const worker = await createCatalogWorker({
      connection: temporal.nativeConnection,
      taskQueue: TASK_QUEUE,
      citrix,
      postRetrySettleMs: 1_000,
    });
    await worker.runUntil(async () => {
      const handle = await startRollout(temporal.client, TASK_QUEUE, rollout);
      for (;;) {
        const progress = await handle.query(progressQuery, { limit: 1 });
        if (progress.phase === 'awaitingApproval') break;
        await new Promise((done) => setTimeout(done, 500));
      }
      const page = await browser.newPage({ viewport: { width: 1400, height: 760 } });
      await page.goto(workflowUiUrl(uiPort, handle.workflowId, temporal.namespace));
      // UI 2.54 shows the summary and the current details on the workflow's "User Metadata" tab.
      await page.getByText('User Metadata', { exact: true }).first().click();
      await waitForText(page, rolloutSummary('nov-patch', parseRolloutInput(rollout)));
      await waitForText(page, 'rollout approve nov-patch');
      mkdirSync(dirname(OUTPUT), { recursive: true });
      await page.screenshot({ path: OUTPUT, fullPage: false });
      await handle.cancel();
    });
    console.log(`wrote ${OUTPUT}`);
  } finally {
    await browser.close();
    await citrix.close();
    await simulator.close();
    await temporal.teardown();
  }
}

const timeout = setTimeout(() => {
  console.error(`ui:screenshot: gave up after ${TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, TIMEOUT_MS);
timeout.unref();
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`ui:screenshot failed: ${(error as Error)?.message ?? error}`);
    process.exit(1);
  },
);
