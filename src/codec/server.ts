/**
 * Temporal's remote codec protocol over node:http, for the Temporal UI and CLI (`--codec-endpoint`): `POST /encode`
 * and `POST /decode` take and answer `{"payloads":[{"metadata":{…base64},"data":"base64"}]}`. It logs nothing of
 * what it is sent or answers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** Bodies larger than this are refused (413) before they are read further. */
export const CODEC_SERVER_MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 for any free port. @default 8888 */
  port?: number;
  /** Requests must carry `Authorization: Bearer <token>`; without a token, none is asked for. */
  authToken?: string;
  /** Browser origins allowed to call it, such as the Temporal UI's `http://localhost:8233`. @default none */
  corsOrigins?: string[];
  /** @default CODEC_SERVER_MAX_BODY_BYTES */
  maxBodyBytes?: number;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Namespace';

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const maxBodyBytes = options.maxBodyBytes ?? CODEC_SERVER_MAX_BODY_BYTES;
  const origins = new Set(options.corsOrigins ?? []);
  const expected = options.authToken ? digest(`Bearer ${options.authToken}`) : undefined;

  const server: Server = createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 400;
      if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
      if (!res.headersSent) {
        // A body cut short is not drained: the connection goes once the answer is out.
        if (status === 413) res.setHeader('connection', 'close');
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: (error as Error).message }));
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const direction = path === '/encode' ? 'encode' : path === '/decode' ? 'decode' : undefined;
    if (!direction) throw new HttpError(404, 'not found: POST /encode or /decode');
    if (req.method === 'OPTIONS') {
      // A browser's preflight carries no credentials; it is answered for the configured origins only.
      if (!req.headers.origin || !origins.has(req.headers.origin)) {
        throw new HttpError(403, 'origin not allowed: add it to CODEC_SERVER_CORS_ORIGIN');
      }
      res
        .writeHead(204, {
          'Access-Control-Allow-Methods': 'POST, OPTIONS',
          'Access-Control-Allow-Headers': ALLOWED_HEADERS,
          'Access-Control-Max-Age': '600',
        })
        .end();
      return;
    }
    if (req.method !== 'POST') throw new HttpError(405, 'use POST');
    if (expected && !sameDigest(expected, req.headers.authorization)) {
      throw new HttpError(401, 'missing or wrong Authorization header: send "Bearer <token>"');
    }
    const payloads = parseBody(await readBody(req, maxBodyBytes));
    const result = await options.codec[direction](payloads);
    res
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify({ payloads: result.map(toJson) }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8888 }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Hashes first, so that the comparison takes the same time whatever the length of the header. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function sameDigest(expected: Buffer, header: string | undefined): boolean {
  return header !== undefined && timingSafeEqual(expected, digest(header));
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw new HttpError(413, `body larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseBody(body: Buffer): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON: send {"payloads":[…]}');
  }
  const payloads = (parsed as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new HttpError(400, 'body has no "payloads" array');
  return payloads.map((payload: JsonPayload, index) => {
    if (typeof payload !== 'object' || payload === null) throw new HttpError(400, `payloads[${index}] is no object`);
    const metadata: Record<string, Uint8Array> = {};
    for (const [key, value] of Object.entries(payload.metadata ?? {})) {
      if (typeof value !== 'string') throw new HttpError(400, `payloads[${index}].metadata.${key} is not base64`);
      metadata[key] = Buffer.from(value, 'base64');
    }
    if (payload.data !== undefined && typeof payload.data !== 'string') {
      throw new HttpError(400, `payloads[${index}].data is not base64`);
    }
    return { metadata, data: Buffer.from(payload.data ?? '', 'base64') };
  });
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}
