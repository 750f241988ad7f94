/**
 * The external analysis gate: with `ROLLOUT_ANALYSIS_URL` set on the worker, each wave's health verdict is also put
 * to a service the administrator runs (a monitoring tool, a smoke-test runner), which answers
 * `{"verdict": "pass" | "fail" | "inconclusive", "reason": "…"}`. Whatever goes wrong on the way — no answer in
 * time, an error status, an answer that is not such an object — is `inconclusive`: it can hold a rollout, never pass
 * one. The URL is a secret (it may carry a token), so no message repeats it.
 */
import { Context } from '@temporalio/activity';
import { request } from 'undici';
import { outboundUrlProblem } from '../citrix';
import { stripControl, truncate } from '../citrix/sanitize';
import type { CatalogHealth, HealthFigures, HealthVerdict } from '../shared/health';
import { outboundDispatcher } from './outbound';

/** One analysis gives up after this long; then the wave's verdict is inconclusive. */
export const ANALYSIS_DEADLINE_MS = 30_000;
/** What is read of the answer. */
const MAX_ANSWER_BYTES = 16 * 1024;
const REASON_CHARS = 300;
const VERDICTS: ReadonlySet<string> = new Set(['pass', 'fail', 'inconclusive']);

/** What the analysis service is sent about a wave. */
export interface AnalysisRequest {
  rolloutId: string;
  wave: number;
  imageId: string;
  /** The machines' verdict, before the analysis. */
  verdict: HealthVerdict;
  reason: string;
  figures: HealthFigures;
  catalogs: Array<Pick<CatalogHealth, 'catalogId' | 'catalogName' | 'verdict' | 'figures'>>;
}

export interface AnalysisAnswer {
  verdict: HealthVerdict;
  reason: string;
}

/** Reads at most `max` bytes of a body; `undefined` past that. */
async function readAtMost(body: AsyncIterable<Buffer>, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The analysis service's answer as a verdict: anything but a well-formed answer is inconclusive. */
export function analysisVerdictOf(status: number, text: string | undefined): AnalysisAnswer {
  const inconclusive = (why: string) => ({ verdict: 'inconclusive' as const, reason: `the analysis ${why}` });
  if (status < 200 || status >= 300) return inconclusive(`service answered ${status}`);
  if (text === undefined) return inconclusive(`answer is longer than ${MAX_ANSWER_BYTES / 1024} KiB`);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return inconclusive('answer is not JSON');
  }
  const { verdict, reason } = (answer ?? {}) as { verdict?: unknown; reason?: unknown };
  if (typeof verdict !== 'string' || !VERDICTS.has(verdict)) {
    return inconclusive('answer has no verdict of pass, fail or inconclusive');
  }
  const said = typeof reason === 'string' ? truncate(stripControl(reason).trim(), REASON_CHARS) : '';
  return { verdict: verdict as HealthVerdict, reason: `the analysis says ${verdict}${said ? `: ${said}` : ''}` };
}

/** The analysis of the worker's configured service, or `undefined` when none is configured. */
export function createAnalysis(analysisUrl: string | undefined, deadlineMs = ANALYSIS_DEADLINE_MS) {
  if (!analysisUrl) return undefined;
  const problem = outboundUrlProblem(analysisUrl, 'the analysis URL');
  if (problem) throw new Error(problem);
  const dispatcher = outboundDispatcher('the analysis host');
  return async function analyze(wave: AnalysisRequest): Promise<AnalysisAnswer> {
    const { cancellationSignal } = Context.current();
    const signal = AbortSignal.any([cancellationSignal, AbortSignal.timeout(deadlineMs)]);
    try {
      const response = await request(analysisUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(wave),
        dispatcher,
        signal,
      });
      const text = await readAtMost(response.body as AsyncIterable<Buffer>, MAX_ANSWER_BYTES);
      if (text === undefined) response.body.destroy();
      return analysisVerdictOf(response.statusCode, text);
    } catch (error) {
      if (cancellationSignal.aborted) throw error;
      const why = signal.aborted
        ? `service gave no answer within ${deadlineMs / 1000} s`
        : `service could not be reached (${(error as { code?: string }).code ?? (error as Error).name})`;
      return { verdict: 'inconclusive', reason: `the analysis ${why}` };
    }
  };
}
