import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, send } from './http';
import type { SimState } from './state';
import {
  CHARSET_TOKEN_ERROR,
  GOV_BAD_REQUEST_STATUS,
  GOV_WRONG_CREDENTIALS,
  UNKNOWN_TOKEN_CUSTOMER_STATUS,
  cwsAuthError,
  govExpiresAt,
} from './unconfirmed';

/** Citrix Cloud's two token endpoints: the OAuth one (a form in) and the US Gov trust service's (JSON in). */
export class TokenEndpoints {
  constructor(
    private readonly state: SimState,
    private readonly tokenTtlSeconds: number,
  ) {}

  /** `params` are a `token` route's: the customer id in the path and the `flow`, `oauth` or `cctrust`. */
  handle(req: IncomingMessage, res: ServerResponse, params: Record<string, string>): Promise<void> {
    const customerId = params.customerId ?? '';
    return params.flow === 'cctrust' ? this.issueGovToken(req, res, customerId) : this.issueToken(req, res, customerId);
  }

  private async issueToken(req: IncomingMessage, res: ServerResponse, customerId: string): Promise<void> {
    const { seed } = this.state;
    const body = await readBody(req);
    if ((req.headers['content-type'] ?? '').includes(';')) return send(res, 400, CHARSET_TOKEN_ERROR);
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') {
      return send(res, 400, {
        error: 'unsupported_grant_type',
        error_description: 'Use grant_type=client_credentials.',
      });
    }
    const knownCustomer = customerId === 'root' || customerId.toLowerCase() === seed.customerId.toLowerCase();
    const rightCredentials = form.get('client_id') === seed.clientId && form.get('client_secret') === seed.clientSecret;
    if (!knownCustomer || !rightCredentials) {
      return send(res, knownCustomer ? 400 : UNKNOWN_TOKEN_CUSTOMER_STATUS, {
        error: 'invalid_client',
        error_description: 'Invalid client id or client secret.',
      });
    }
    const accessToken = this.state.issueToken(this.tokenTtlSeconds);
    send(res, 200, { token_type: 'bearer', access_token: accessToken, expires_in: String(this.tokenTtlSeconds) });
  }

  /** The US Gov trust service's token request: `{"ClientId","ClientSecret"}` as JSON, as Citrix's Go SDK sends it. */
  private async issueGovToken(req: IncomingMessage, res: ServerResponse, customerId: string): Promise<void> {
    const { seed } = this.state;
    const text = await readBody(req);
    const refuse = (message: string) => send(res, GOV_BAD_REQUEST_STATUS, cwsAuthError(message));
    if ((req.headers['content-type'] ?? '').trim().toLowerCase() !== 'application/json') {
      return refuse('The Content-Type must be application/json.');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refuse('The request body is not valid JSON.');
    }
    const fields = new Map(
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? Object.entries(body).map(([key, value]) => [key.toLowerCase(), value as unknown])
        : [],
    );
    const [clientId, clientSecret] = [fields.get('clientid'), fields.get('clientsecret')];
    if (typeof clientId !== 'string' || typeof clientSecret !== 'string') {
      return refuse('The request body must be a JSON object with ClientId and ClientSecret.');
    }
    const knownCustomer = customerId.toLowerCase() === seed.customerId.toLowerCase();
    if (!knownCustomer || clientId !== seed.clientId || clientSecret !== seed.clientSecret) {
      return send(res, GOV_WRONG_CREDENTIALS.status, GOV_WRONG_CREDENTIALS.body);
    }
    send(res, 200, {
      Token: this.state.issueToken(this.tokenTtlSeconds),
      Principal: seed.clientId,
      UserId: seed.clientId,
      CustomerId: seed.customerId,
      ExpiresAt: govExpiresAt(this.tokenTtlSeconds),
    });
  }
}
