import { randomUUID } from 'node:crypto';
import { z } from 'zod';

export type Operation =
  | 'token'
  | 'sites'
  | 'catalogs'
  | 'catalog'
  | 'updateImage'
  | 'legacyUpdateImage'
  | 'updateStatus'
  | 'images'
  | 'image';

export type FaultAction =
  | {
      type: 'status';
      status: number;
      /** Sets a `Retry-After` header (seconds). */
      retryAfterSeconds?: number;
      /** Puts `{"name":"retryDelay","value":"N"}` in the Citrix Cloud common error body's `parameters`. */
      retryDelaySeconds?: number;
      /** Replaces the default body: a string is sent as text, anything else as JSON. */
      body?: unknown;
    }
  /** Destroys the socket without answering. */
  | { type: 'reset' }
  /**
   * Handles the request as usual (an `$updateImage` is accepted and the update starts), then destroys the socket
   * instead of answering: the caller cannot know that its request took effect.
   */
  | { type: 'acceptThenReset' }
  /** Handles the request as usual, then never answers: the caller runs into its own timeout. */
  | { type: 'acceptThenStall' }
  /** Waits, then answers normally (or as the next matching fault says). */
  | { type: 'latency'; ms: number }
  /** The next accepted update of a matching catalog ends in `Error` once processing reaches `atPercent`. */
  | {
      type: 'failNextUpdate';
      subState: string;
      statusMessage?: string;
      /** @default 50 */
      atPercent?: number;
    }
  /** Expires every token issued so far, the moment the fault is added; `times` does not apply. */
  | { type: 'expireTokens' };

export interface FaultMatch {
  operation?: Operation;
  /** Compared case-insensitively. */
  method?: string;
  catalogId?: string;
}

export interface FaultSpec {
  /** @default {} (every request to the API and token endpoints) */
  match?: FaultMatch;
  /** How many matching requests (or, for `failNextUpdate`, accepted updates) it applies to; 0 or null: until removed. @default 1 */
  times?: number | null;
  action: FaultAction;
}

export interface StoredFault extends FaultSpec {
  id: string;
  /** Applications left; null means until removed. */
  remaining: number | null;
}

export interface RequestFacts {
  operation: Operation | 'unknown';
  method: string;
  catalogId?: string;
}

const count = z.number().int().nonnegative();
const faultSpecSchema = z.strictObject({
  match: z
    .strictObject({
      operation: z
        .enum([
          'token',
          'sites',
          'catalogs',
          'catalog',
          'updateImage',
          'legacyUpdateImage',
          'updateStatus',
          'images',
          'image',
        ])
        .optional(),
      method: z.string().optional(),
      catalogId: z.string().optional(),
    })
    .optional(),
  times: count.nullable().optional(),
  action: z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('status'),
      status: z.number().int().min(100).max(599),
      retryAfterSeconds: count.optional(),
      retryDelaySeconds: count.optional(),
      body: z.unknown().optional(),
    }),
    z.strictObject({ type: z.literal('reset') }),
    z.strictObject({ type: z.literal('acceptThenReset') }),
    z.strictObject({ type: z.literal('acceptThenStall') }),
    z.strictObject({ type: z.literal('latency'), ms: count }),
    z.strictObject({
      type: z.literal('failNextUpdate'),
      subState: z.string().min(1),
      statusMessage: z.string().optional(),
      atPercent: count.max(100).optional(),
    }),
    z.strictObject({ type: z.literal('expireTokens') }),
  ]),
});

/** Throws an error naming the problems, so that a typo in a test's fault fails loudly instead of never matching. */
export function validateFaultSpec(spec: unknown): asserts spec is FaultSpec {
  const result = faultSpecSchema.safeParse(spec);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new TypeError(`invalid fault: ${problems.join('; ')}`);
  }
}

function matches(match: FaultMatch | undefined, facts: RequestFacts): boolean {
  if (!match) return true;
  if (match.operation && match.operation !== facts.operation) return false;
  if (match.method && match.method.toUpperCase() !== facts.method) return false;
  if (match.catalogId && match.catalogId.toLowerCase() !== facts.catalogId?.toLowerCase()) return false;
  return true;
}

/** Faults kept in insertion order; each one counts down as it applies and disappears at zero. */
export class FaultList {
  private readonly faults = new Map<string, StoredFault>();

  add(spec: FaultSpec): StoredFault {
    const fault: StoredFault = {
      ...spec,
      id: randomUUID(),
      remaining: spec.times === undefined ? 1 : spec.times || null,
    };
    this.faults.set(fault.id, fault);
    return fault;
  }

  list(): StoredFault[] {
    return [...this.faults.values()];
  }

  remove(id: string): boolean {
    return this.faults.delete(id);
  }

  clear(): void {
    this.faults.clear();
  }

  /**
   * The request-level faults (status, reset, acceptThen…, latency) that apply to one request, in insertion order, up to and
   * including the first that answers for it.
   */
  takeForRequest(facts: RequestFacts): FaultAction[] {
    if (this.faults.size === 0) return [];
    const taken: FaultAction[] = [];
    for (const fault of this.faults.values()) {
      const { type } = fault.action;
      if (type === 'failNextUpdate' || type === 'expireTokens' || !matches(fault.match, facts)) continue;
      this.consume(fault);
      taken.push(fault.action);
      if (type !== 'latency') break;
    }
    return taken;
  }

  /** The failure planned for an update just accepted, if a `failNextUpdate` fault matches it. */
  takeUpdateFailure(facts: RequestFacts): Extract<FaultAction, { type: 'failNextUpdate' }> | undefined {
    for (const fault of this.faults.values()) {
      if (fault.action.type !== 'failNextUpdate' || !matches(fault.match, facts)) continue;
      this.consume(fault);
      return fault.action;
    }
    return undefined;
  }

  private consume(fault: StoredFault): void {
    if (fault.remaining === null) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.delete(fault.id);
  }
}
