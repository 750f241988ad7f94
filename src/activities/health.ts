/** The health gate's reads: each catalog of a wave and its machines, judged by `health-rules`. */
import { Context, activityInfo } from '@temporalio/activity';
import { type CitrixClient, CitrixNotFoundError } from '../citrix';
import { truncate } from '../citrix/sanitize';
import { mapLimit } from '../shared/concurrency';
import {
  type CatalogHealth,
  type HealthFigures,
  type HealthThresholds,
  type HealthVerdict,
  type WaveHealth,
} from '../shared/health';
import { type AnalysisAnswer, createAnalysis } from './analysis';
import { figuresOf, judgeCatalogHealth, worstVerdict } from './health-rules';

/** Catalogs read at once: a wave of a thousand is judged in minutes without a burst of calls. */
const CONCURRENT_READS = 8;
/** A Citrix error quoted in a verdict: its message is redacted by the client already, and kept short here. */
const MESSAGE_CHARS = 300;
/** Catalogs that did not pass, listed with their reason in the wave's verdict (all are counted). */
export const NOT_PASSED_LISTED = 10;

export interface WaveHealthRequest {
  wave: number;
  /** The catalogs to judge, each with the image the rollout moved it to. */
  catalogIds: string[];
  imageIds: string[];
  thresholds: HealthThresholds;
}

export interface WaveHealthReport extends Omit<WaveHealth, 'checkedAt'> {
  /** Each requested catalog's verdict and figures, in request order. */
  verdicts: Array<{ verdict: HealthVerdict; figures?: HealthFigures }>;
}

const NO_FIGURES: HealthFigures = figuresOf([]);

function add(a: HealthFigures, b: HealthFigures | undefined): HealthFigures {
  if (!b) return a;
  return Object.fromEntries(
    Object.keys(a).map((key) => [key, a[key as keyof HealthFigures] + b[key as keyof HealthFigures]]),
  ) as unknown as HealthFigures;
}

export interface HealthActivityDependencies {
  citrix: CitrixClient;
  /** The external analysis gate (a secret, so worker configuration only): each wave's verdict is put to it too. */
  analysisUrl?: string;
  /** How long the analysis service may take to answer. @default ANALYSIS_DEADLINE_MS (30 s) */
  analysisTimeoutMs?: number;
}

export function createHealthActivities({ citrix, analysisUrl, analysisTimeoutMs }: HealthActivityDependencies) {
  const analyze = createAnalysis(analysisUrl, analysisTimeoutMs);

  async function judge(catalogId: string, imageId: string, thresholds: HealthThresholds): Promise<CatalogHealth> {
    let catalog;
    try {
      catalog = await citrix.getCatalog(catalogId);
    } catch (error) {
      const gone = error instanceof CitrixNotFoundError;
      return {
        catalogId,
        verdict: gone ? 'fail' : 'inconclusive',
        reason: gone
          ? 'the catalog no longer exists'
          : `the catalog could not be read: ${truncate((error as Error).message, MESSAGE_CHARS)}`,
      };
    }
    const machines = catalog.deliveryGroupId
      ? await citrix
          .listCatalogMachines({
            deliveryGroupId: catalog.deliveryGroupId,
            vdaProvisioningSchemeId: catalog.vdaProvisioningSchemeId,
          })
          .catch((error: Error) => ({ problem: truncate(error.message, MESSAGE_CHARS) }))
      : { problem: 'Citrix names no delivery group for the catalog' };
    return judgeCatalogHealth({ catalog, imageId, machines, thresholds });
  }

  return {
    /**
     * Judges every catalog of a wave from its machines. A catalog that cannot be judged is `inconclusive`, never
     * `pass`: the activity fails only when it is cancelled, so that a gate always ends in a verdict.
     */
    async checkWaveHealth(request: WaveHealthRequest): Promise<WaveHealthReport> {
      const results = await mapLimit(request.catalogIds, CONCURRENT_READS, async (catalogId, index) => {
        const health = await judge(catalogId, request.imageIds[index]!, request.thresholds);
        Context.current().heartbeat(index);
        return health;
      });
      const machines = worstVerdict(results.map((r) => r.verdict));
      const notPassed = results.filter((r) => r.verdict !== 'pass');
      const counts = { pass: 0, fail: 0, inconclusive: 0 };
      for (const r of results) counts[r.verdict] += 1;
      const first = notPassed.find((r) => r.verdict === machines) ?? results[0];
      const machineReason =
        machines === 'pass'
          ? `all ${results.length} catalogs pass`
          : `${first?.catalogName ?? first?.catalogId}: ${first?.reason}` +
            (notPassed.length > 1 ? ` (and ${notPassed.length - 1} more catalogs)` : '');
      const figures = results.reduce((sum, r) => add(sum, r.figures), NO_FIGURES);
      let analysis: AnalysisAnswer | undefined;
      if (analyze) {
        analysis = await analyze({
          rolloutId: (activityInfo().workflowExecution?.workflowId ?? '').replace(/^rollout-/, ''),
          wave: request.wave,
          imageId: request.imageIds[0] ?? '',
          verdict: machines,
          reason: machineReason,
          figures,
          catalogs: results.map(({ catalogId, catalogName, verdict, figures }) => ({
            catalogId,
            catalogName,
            verdict,
            figures,
          })),
        });
      }
      // The analysis can make a verdict worse, never better: a wave whose machines fail fails whatever it says.
      const verdict = worstVerdict([machines, analysis?.verdict ?? 'pass']);
      const analysisDecides = analysis !== undefined && verdict !== machines;
      return {
        wave: request.wave,
        verdict,
        reason: analysisDecides ? analysis!.reason : machineReason,
        counts,
        figures,
        catalogs: notPassed.slice(0, NOT_PASSED_LISTED),
        ...(analysis && { analysis }),
        verdicts: results.map((r) => ({ verdict: r.verdict, ...(r.figures && { figures: r.figures }) })),
      };
    },
  };
}
