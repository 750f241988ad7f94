import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthState {
  /** The process works and should be kept: false once the worker has failed. */
  live(): boolean;
  /** The worker polls its task queue: false while it starts and once it shuts down. */
  ready(): boolean;
  /** Shown in the response body. */
  details?(): Record<string, unknown>;
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `GET /healthz` (liveness) and `GET /readyz` (readiness) for Docker and Kubernetes probes: 200 or 503 with a small
 * JSON body. Metrics are served by the Temporal runtime's Prometheus endpoint, not here.
 */
export async function startHealthServer(bindAddress: string, state: HealthState): Promise<HealthServer> {
  const { host, port } = parseBindAddress(bindAddress);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const check = path === '/healthz' || path === '/livez' ? state.live : path === '/readyz' ? state.ready : undefined;
    if (!check || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const ok = check.call(state);
    res
      .writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...state.details?.() }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  server.unref();
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** `host:port`, `[v6]:port` or `:port`. */
export function parseBindAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new Error(`"${value}" is not a host:port bind address`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
