import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { RunningSimulator } from '../../src/simulator';

/** Test output shows failures, not the SDK's info logs. */
export function quietTemporalLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier call in this process.
  }
}

/** Log lines of the SDK's runtime (in-process workers: workflow and activity logs), kept for the secrets check. */
export const capturedLogLines: string[] = [];

/** Like `quietTemporalLogs`, but keeps every line from INFO up in `capturedLogLines` instead of printing it. */
export function captureTemporalLogs(): void {
  try {
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => {
        capturedLogLines.push(`${entry.level} ${entry.message} ${safeJson(entry.meta)}`);
      }),
    });
  } catch {
    // Already installed by an earlier call in this process.
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message} ${v.stack}` : v));
  } catch {
    return String(value);
  }
}

/**
 * Collects the secrets a run handed out (the client secret, every bearer token the simulator issued, across resets)
 * and checks that none of them shows up in any text: histories, log lines, error messages, process output.
 */
export class SecretWatch {
  private readonly tokens = new Set<string>();
  private readonly texts: { what: string; text: string }[] = [];

  constructor(private readonly simulators: () => RunningSimulator[]) {}

  /** Call before `simulator.reset()`: the simulator forgets its tokens on reset. */
  collectTokens(): void {
    for (const simulator of this.simulators()) for (const token of simulator.issuedTokens()) this.tokens.add(token);
  }

  /** Keeps a text to check at the end (an error message, a process's output). */
  keep(what: string, text: string): void {
    this.texts.push({ what, text });
  }

  keepError(what: string, error: unknown): void {
    if (error instanceof Error) {
      this.keep(what, `${error.name}: ${error.message}\n${error.stack}\n${safeJson(error)}`);
      if (error.cause) this.keepError(`${what} (cause)`, error.cause);
    } else this.keep(what, safeJson(error));
  }

  /** Throws naming where a secret was found. Returns how many texts and tokens were checked. */
  assertNoSecrets(more: { what: string; text: string }[] = []): { texts: number; tokens: number; chars: number } {
    this.collectTokens();
    const secrets = new Set(this.simulators().map((simulator) => simulator.clientSecret));
    const all = [...this.texts, ...more, { what: 'runtime log', text: capturedLogLines.join('\n') }];
    for (const { what, text } of all) {
      for (const secret of secrets) {
        if (text.includes(secret)) throw new Error(`the client secret appears in ${what}`);
      }
      for (const token of this.tokens) {
        if (text.includes(token)) throw new Error(`a bearer token appears in ${what}`);
      }
    }
    return { texts: all.length, tokens: this.tokens.size, chars: all.reduce((n, { text }) => n + text.length, 0) };
  }
}
