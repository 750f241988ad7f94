import { CitrixAuthError, type CitrixErrorDetails, CitrixInvalidResponseError } from './errors';
import { type HttpTransport, MAX_RESPONSE_BYTES } from './http';
import type { CitrixRegion } from './regions';
import { errorForStatus, headerValue, retryAfterMs } from './responses';
import type { SecretRedactor } from './sanitize';

/**
 * How the client gets a token: `oauth`, the form-encoded client-credentials flow of `cctrustoauth2` that every
 * commercial region serves; `cctrust`, the JSON flow of US Gov's trust service (`{ClientId, ClientSecret}` in,
 * `{Token, ExpiresAt}` out), which US Gov tenants must use.
 */
export type CitrixAuthFlow = 'oauth' | 'cctrust';

/** The token endpoint of US Gov tenants (Citrix's Terraform provider and Go SDK). */
const US_GOV_TRUST_HOST = 'trust.citrixworkspacesapi.us';

/** A token is reused for at least this long, whatever lifetime its answer claims (0 would mean a token per call). */
export const MIN_TOKEN_REUSE_MS = 30_000;
/** And at most this long. */
export const MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000;

export interface CachedToken {
  value: string;
  expiresAtMs: number;
}

/** The token endpoint of a customer whose client names none: US Gov's trust service, or the region's host. */
export function defaultTokenUrl(region: CitrixRegion | undefined, host: string, customerId: string): string {
  const customer = encodeURIComponent(customerId);
  return region === 'us-gov'
    ? `https://${US_GOV_TRUST_HOST}/${customer}/tokens/clients`
    : `https://${host}/cctrustoauth2/${customer}/tokens/clients`;
}

/** A token URL on US Gov's trust host means a US Gov tenant, even when the region was left at its default. */
export function defaultAuthFlow(region: CitrixRegion | undefined, tokenUrl: string): CitrixAuthFlow {
  // A token URL that is no URL at all is refused by the client's URL check, with a message that says so.
  const host = URL.canParse(tokenUrl) ? new URL(tokenUrl).hostname : undefined;
  return region === 'us-gov' || host === US_GOV_TRUST_HOST ? 'cctrust' : 'oauth';
}

/** The `Authorization` value of an API call. */
export function authorizationHeader(flow: CitrixAuthFlow, token: string): string {
  // The scheme as each flow's Citrix samples write it; Citrix matches it case-insensitively.
  return flow === 'oauth' ? `CwsAuth Bearer=${token}` : `CWSAuth bearer=${token}`;
}

export interface TokenSourceOptions {
  customerId: string;
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  authFlow: CitrixAuthFlow;
  userAgent: string;
  /** A cached token is replaced once less than this is left of its life. */
  refreshMarginMs: number;
  http: HttpTransport;
  /** Learns every token issued, so that no answer or log line quotes one. */
  redactor: SecretRedactor;
}

/**
 * The bearer tokens of one API client: one is cached and shared by every call until it nears its end, and callers
 * that need a token while one is being fetched wait for that fetch instead of starting their own. The credentials
 * and the token live in private fields.
 */
export class TokenSource {
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #redactor: SecretRedactor;
  readonly #http: HttpTransport;
  #token?: CachedToken;
  #pendingToken?: Promise<CachedToken>;
  private readonly customerId: string;
  private readonly tokenUrl: string;
  private readonly authFlow: CitrixAuthFlow;
  private readonly userAgent: string;
  private readonly refreshMarginMs: number;

  constructor(options: TokenSourceOptions) {
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#redactor = options.redactor;
    this.#http = options.http;
    this.customerId = options.customerId;
    this.tokenUrl = options.tokenUrl;
    this.authFlow = options.authFlow;
    this.userAgent = options.userAgent;
    this.refreshMarginMs = options.refreshMarginMs;
  }

  async get(): Promise<CachedToken> {
    if (this.#token && this.#token.expiresAtMs - this.refreshMarginMs > Date.now()) return this.#token;
    this.#pendingToken ??= this.fetchToken().finally(() => (this.#pendingToken = undefined));
    return this.#pendingToken;
  }

  /** Forgets `token` unless a newer one has already replaced it. */
  drop(token: CachedToken): void {
    if (this.#token === token) this.#token = undefined;
  }

  /**
   * Nothing of a token endpoint's answer is ever quoted: a wrong URL or a proxy may echo the form, and with it the
   * secret. An error says the status and, for a refusal, the OAuth `error` code when it is one of the standard ones.
   */
  private async fetchToken(): Promise<CachedToken> {
    const oauth = this.authFlow === 'oauth';
    const body = oauth
      ? new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: this.#clientId,
          client_secret: this.#clientSecret,
        }).toString()
      : JSON.stringify({ ClientId: this.#clientId, ClientSecret: this.#clientSecret });
    const response = await this.#http.send('POST', this.tokenUrl, 'token', {
      // Citrix warns that a `; charset=` suffix on the form's content type breaks the token endpoint.
      headers: {
        'content-type': oauth ? 'application/x-www-form-urlencoded' : 'application/json',
        accept: 'application/json',
        'user-agent': this.userAgent,
      },
      body,
      maxBytes: MAX_RESPONSE_BYTES.token,
    });
    const trace = this.#redactor.excerpt(headerValue(response.headers['x-cws-transactionid']) ?? '', 64);
    const details: CitrixErrorDetails = {
      method: 'POST',
      url: this.tokenUrl,
      status: response.status,
      transactionId: trace || undefined,
    };
    const answered = `POST ${this.tokenUrl} answered ${response.status}${trace ? ` (X-Cws-TransactionId ${trace})` : ''}`;
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      const code = oauthErrorCode(response.body);
      throw new CitrixAuthError(
        `Citrix Cloud refused the API client credentials for customer ${this.customerId} ` +
          `(${answered}${code ? `, ${code}` : ''}): check the client id, the secret and the customer id, and that ` +
          `the API client has not been deleted`,
        details,
      );
    }
    if (response.status < 200 || response.status >= 300) {
      throw errorForStatus(response.status, `${answered}: the token endpoint is not available`, {
        ...details,
        retryAfterMs: retryAfterMs(response.headers, undefined),
      });
    }
    const answer = (response.body ?? {}) as Record<string, unknown>;
    // OAuth: `access_token` and `expires_in`, a string of seconds in Citrix's sample (a number is accepted too).
    // US Gov's trust service: `Token` and `ExpiresAt`, seconds from now as Citrix's Go SDK reads it.
    const value = oauth ? answer['access_token'] : answer['Token'];
    const expiresInSeconds = Number((oauth ? answer['expires_in'] : answer['ExpiresAt']) ?? 3600);
    if (typeof value !== 'string' || !value || !Number.isFinite(expiresInSeconds)) {
      throw new CitrixInvalidResponseError(
        `${answered} without an access token and its lifetime: check CITRIX_TOKEN_URL`,
        details,
      );
    }
    this.#redactor.add(value);
    const lifetimeMs = Math.min(
      Math.max(expiresInSeconds * 1000, this.refreshMarginMs + MIN_TOKEN_REUSE_MS),
      MAX_TOKEN_LIFETIME_MS,
    );
    const token = { value, expiresAtMs: Date.now() + lifetimeMs };
    this.#token = token;
    return token;
  }
}

/** The standard OAuth 2.0 error codes (RFC 6749, 5.2): the only part of a token endpoint's answer ever quoted. */
const OAUTH_ERROR_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

function oauthErrorCode(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' && OAUTH_ERROR_CODES.has(code) ? code : undefined;
}
