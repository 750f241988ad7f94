import type { IncomingMessage, ServerResponse } from 'node:http';
import { serviceError } from './unconfirmed';

const MAX_BODY_BYTES = 64 * 1024;

/** Thrown by a handler to answer with `status` and `body`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === 'object' && body && 'message' in body ? String(body.message) : `HTTP ${status}`);
  }
}

export const badRequest = (message: string) => new HttpError(400, serviceError(message));
export const notFound = (message: string) => new HttpError(404, serviceError(message));

/** Logs a request once its answer is written (or its socket is destroyed). */
export const onAnswered = new WeakMap<ServerResponse, () => void>();
/** Answers that an `acceptThen…` fault withholds: called with the status instead of writing the answer. */
export const withheld = new WeakMap<ServerResponse, (status: number) => void>();
/** Body bytes written so far by a `hugeBody` or `trickle` fault. */
export const streamed = new WeakMap<ServerResponse, number>();

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, serviceError(`request body over ${MAX_BODY_BYTES} bytes`)));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`The request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  writeResponse(
    res,
    status,
    body === undefined ? '' : JSON.stringify(body),
    'application/json; charset=utf-8',
    headers,
  );
}

export function writeResponse(
  res: ServerResponse,
  status: number,
  payload: string,
  contentType: string,
  headers: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) return;
  const withhold = withheld.get(res);
  if (withhold) {
    withheld.delete(res);
    return withhold(status);
  }
  res.writeHead(status, {
    ...(payload ? { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) } : {}),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(payload);
  onAnswered.get(res)?.();
}
