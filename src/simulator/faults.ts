import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ErrorShape } from './unconfirmed';

/**
 * What a request asks for. `token` is either token endpoint: the OAuth one and the US Gov one (the request log's `path`
 * tells them apart). The Catalog Service's operations come first, then the DaaS REST API's (`/cvad/manage`).
 */
export const OPERATIONS = [
  'token',
  'sites',
  'catalogs',
  'catalog',
  'updateImage',
  'legacyUpdateImage',
  'updateStatus',
  'images',
  'image',
  'me',
  'deliveryGroup',
  'deliveryGroupMachineCatalogs',
  'deliveryGroupMachines',
  'machineCatalogMachines',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export type FaultAction =
  | {
      type: 'status';
      status: number;
      /** Sets a `Retry-After` header (seconds). */
      retryAfterSeconds?: number;
      /**
       * Puts `{"name":"retryDelay","value":"N"}` in the common error body's `parameters` (see `retryDelayAs`); the other
       * shapes mention the delay in their text.
       */
      retryDelaySeconds?: number;
      /** How the common body carries `retryDelaySeconds`: in a `parameters` array, or as `{"retryDelay":"N"}`. @default 'array' */
      retryDelayAs?: 'array' | 'object';
      /**
       * The default body's shape: the catalog service's `{"message"}`, the common model's `{"type","detail",
       * "parameters"}`, the CWS auth layer's `{"Error":{"Message","Type":"CWSAuthException"}}`, or plain text.
       * @default 'common'
       */
      shape?: ErrorShape;
      /**
       * Whether the answer carries a `citrix-transactionId` (and, on a token endpoint, an `X-Cws-TransactionId`).
       * Gateway answers carry none. @default false for 429, 502 and 504, true otherwise
       */
      transactionId?: boolean;
      /**
       * Replaces the default body, whatever the status: a string is sent as text/plain, any other JSON value as
       * application/json (a 200 with `{"items": "not a list"}` makes a wrong-typed answer); `null` keeps the default.
       */
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
  /**
   * The next accepted update of a matching catalog fails once processing reaches `atPercent`: it ends in `Error` with
   * `subState`, or, with `endState: 'Active'`, the catalog goes back to its previous image and settled state (`Active`,
   * or `InputRequired` for a catalog that was) with a sub-state of null and an `ImageRollback` warning.
   */
  | {
      type: 'failNextUpdate';
      /** The `Error` sub-state: required unless `endState` is `Active`, which has none. */
      subState?: string;
      statusMessage?: string;
      /** @default 50 */
      atPercent?: number;
      /** @default 'Error' */
      endState?: 'Error' | 'Active';
    }
  /** Expires every token issued so far, the moment the fault is added; `times` does not apply. */
  | { type: 'expireTokens' }
  /**
   * Machines that boot `imageId` from now on (of the catalog `match.catalogId`, or of any) fail to register at this
   * share: they end `Unregistered` with `FaultState` `Unregistered`, and their catalog carries a `VdaRegisterFailure`
   * error warning while any do. Holds until removed (`times` must be left out or null); removing it mends the image,
   * and those machines register.
   */
  | { type: 'unhealthyImage'; imageId: string; unregisteredPercent: number }
  /**
   * Answers `status` quoting the whole request back, as a misconfigured proxy or a WAF error page does: a text/plain
   * body holding the request line, every request header as received (`Authorization` included, verbatim) and the raw
   * request body (read in full, up to the simulator's body limit). A token request thus has its
   * `client_secret=…` quoted, an API call its `CwsAuth Bearer=…` header.
   */
  | {
      type: 'echo';
      status: number;
      /**
       * Sends `{"message": "<the same text>", "request": {"headers": {...}, "body": "<raw body>"}}` as JSON instead, so
       * that the secrets also appear JSON-escaped.
       */
      json?: boolean;
    }
  /**
   * Answers an `application/json` body of exactly `bytes` bytes (at most 1 GiB), `{"items":[{"id":"…","name":"…"},…]}`,
   * generated as it is sent and streamed in chunks without a `content-length`, at the pace the client reads it. Stops
   * the moment the client closes the connection; the request log then shows how far it got (`streamedBytes`).
   */
  | {
      type: 'hugeBody';
      bytes: number;
      /** @default 200 */
      status?: number;
    }
  /**
   * Sends the status and headers at once, then the body (the same JSON as `hugeBody`) a small chunk at a time at
   * `bytesPerSecond`, until it is all sent or the client disconnects.
   */
  | {
      type: 'trickle';
      bytesPerSecond: number;
      /** @default 200 */
      status?: number;
      /** @default 1048576 (1 MiB) */
      totalBytes?: number;
    };

/** The largest body a `hugeBody` or `trickle` fault sends: 1 GiB. */
export const MAX_STREAMED_BYTES = 2 ** 30;

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

/** An `unhealthyImage` fault as the machines read it. */
export interface UnhealthyImage {
  imageId: string;
  unregisteredPercent: number;
  /** When the fault was added: only machines that boot the image from then on fail. */
  sinceMs: number;
}

export interface RequestFacts {
  operation: Operation | 'unknown';
  method: string;
  catalogId?: string;
}

const count = z.number().int().nonnegative();
/** A status that may carry a body (the faults that send one). */
const answerStatus = z
  .number()
  .int()
  .min(200)
  .max(599)
  .refine((status) => ![204, 205, 304].includes(status), 'a 204, 205 or 304 answer has no body');
const streamedBytes = count.max(MAX_STREAMED_BYTES);
const faultSpecSchema = z.strictObject({
  match: z
    .strictObject({
      operation: z.enum(OPERATIONS).optional(),
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
      retryDelayAs: z.enum(['array', 'object']).optional(),
      shape: z.enum(['service', 'common', 'auth', 'text']).optional(),
      transactionId: z.boolean().optional(),
      body: z.unknown().optional(),
    }),
    z.strictObject({ type: z.literal('reset') }),
    z.strictObject({ type: z.literal('acceptThenReset') }),
    z.strictObject({ type: z.literal('acceptThenStall') }),
    z.strictObject({ type: z.literal('latency'), ms: count }),
    z.strictObject({
      type: z.literal('failNextUpdate'),
      subState: z.string().min(1).optional(),
      statusMessage: z.string().optional(),
      atPercent: count.max(100).optional(),
      endState: z.enum(['Error', 'Active']).optional(),
    }),
    z.strictObject({ type: z.literal('expireTokens') }),
    z.strictObject({
      type: z.literal('unhealthyImage'),
      imageId: z.string().min(1),
      unregisteredPercent: count.max(100),
    }),
    z.strictObject({ type: z.literal('echo'), status: answerStatus, json: z.boolean().optional() }),
    z.strictObject({ type: z.literal('hugeBody'), bytes: streamedBytes, status: answerStatus.optional() }),
    z.strictObject({
      type: z.literal('trickle'),
      bytesPerSecond: z.number().int().positive(),
      status: answerStatus.optional(),
      totalBytes: streamedBytes.optional(),
    }),
  ]),
});

/** Throws an error naming the problems, so that a typo in a test's fault fails loudly instead of never matching. */
export function validateFaultSpec(spec: unknown): asserts spec is FaultSpec {
  const result = faultSpecSchema.safeParse(spec);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new TypeError(`invalid fault: ${problems.join('; ')}`);
  }
  const { action, match, times } = result.data;
  if (action.type === 'unhealthyImage') {
    if (times) throw new TypeError('invalid fault: times: an unhealthyImage fault holds until removed; pass null');
    if (match?.operation !== undefined || match?.method !== undefined) {
      throw new TypeError('invalid fault: match: an unhealthyImage fault matches by catalogId only');
    }
  }
  if (action.type === 'failNextUpdate' && action.endState !== 'Active' && action.subState === undefined) {
    throw new TypeError('invalid fault: action.subState: required for an update that ends in Error');
  }
  if (action.type === 'status' && action.retryDelayAs !== undefined) {
    if (action.retryDelaySeconds === undefined) {
      throw new TypeError('invalid fault: action.retryDelayAs: needs retryDelaySeconds');
    }
    if ((action.shape ?? 'common') !== 'common') {
      throw new TypeError(
        `invalid fault: action.retryDelayAs: only the common shape has parameters, not ${action.shape}`,
      );
    }
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
  private readonly addedAtMs = new Map<string, number>();

  add(spec: FaultSpec): StoredFault {
    const untilRemoved = spec.action.type === 'unhealthyImage';
    const fault: StoredFault = {
      ...spec,
      id: randomUUID(),
      remaining: spec.times === undefined && !untilRemoved ? 1 : spec.times || null,
    };
    this.faults.set(fault.id, fault);
    this.addedAtMs.set(fault.id, Date.now());
    return fault;
  }

  list(): StoredFault[] {
    return [...this.faults.values()];
  }

  remove(id: string): boolean {
    this.addedAtMs.delete(id);
    return this.faults.delete(id);
  }

  clear(): void {
    this.faults.clear();
    this.addedAtMs.clear();
  }

  /** The `unhealthyImage` faults in force for a catalog's machines. */
  unhealthyImages(catalogId: string): UnhealthyImage[] {
    if (this.faults.size === 0) return [];
    const found: UnhealthyImage[] = [];
    for (const fault of this.faults.values()) {
      const { action } = fault;
      if (action.type !== 'unhealthyImage' || !matches(fault.match, { operation: 'unknown', method: '', catalogId })) {
        continue;
      }
      const sinceMs = this.addedAtMs.get(fault.id) ?? 0;
      found.push({ imageId: action.imageId, unregisteredPercent: action.unregisteredPercent, sinceMs });
    }
    return found;
  }

  /**
   * The request-level faults (status, reset, acceptThen…, latency, echo, hugeBody, trickle) that apply to one request, in
   * insertion order, up to and including the first that answers for it.
   */
  takeForRequest(facts: RequestFacts): FaultAction[] {
    if (this.faults.size === 0) return [];
    const taken: FaultAction[] = [];
    for (const fault of this.faults.values()) {
      const { type } = fault.action;
      if (type === 'failNextUpdate' || type === 'expireTokens' || type === 'unhealthyImage') continue;
      if (!matches(fault.match, facts)) continue;
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
    if (fault.remaining <= 0) this.remove(fault.id);
  }
}
