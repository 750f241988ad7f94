import type { Operation } from './faults';

export interface Route {
  operation: Operation | 'unknown';
  /** For `token`: `flow` is `oauth` or `cctrust` (the US Gov endpoint). */
  params: Record<string, string>;
  /** Set when the path is known but the method is not. */
  allow?: string;
  /** A DaaS REST API (`/cvad/manage`) operation. */
  daas?: boolean;
}

type RouteTable = { method: string; segments: string[]; operation: Operation }[];

const API_ROUTES: RouteTable = [
  { method: 'GET', segments: [':customerId', 'sites'], operation: 'sites' },
  { method: 'GET', segments: [':customerId', ':siteId', 'catalogs'], operation: 'catalogs' },
  { method: 'GET', segments: [':customerId', ':siteId', 'catalogs', ':catalogId'], operation: 'catalog' },
  {
    method: 'POST',
    segments: [':customerId', ':siteId', 'catalogs', ':catalogId', '$updateimage'],
    operation: 'updateImage',
  },
  {
    method: 'POST',
    segments: [':customerId', ':siteId', 'catalogs', ':catalogId', 'updateimage'],
    operation: 'legacyUpdateImage',
  },
  {
    method: 'GET',
    segments: [':customerId', ':siteId', 'catalogs', ':catalogId', 'updatestatus'],
    operation: 'updateStatus',
  },
  { method: 'GET', segments: [':customerId', ':siteId', 'images'], operation: 'images' },
  { method: 'GET', segments: [':customerId', ':siteId', 'images', ':imageId'], operation: 'image' },
];

/** Below `/cvad/manage`; ASP.NET matches the literal segments without regard to case. */
const DAAS_ROUTES: RouteTable = [
  { method: 'GET', segments: ['me'], operation: 'me' },
  { method: 'GET', segments: ['deliverygroups', ':nameOrId'], operation: 'deliveryGroup' },
  {
    method: 'GET',
    segments: ['deliverygroups', ':nameOrId', 'machinecatalogs'],
    operation: 'deliveryGroupMachineCatalogs',
  },
  { method: 'GET', segments: ['deliverygroups', ':nameOrId', 'machines'], operation: 'deliveryGroupMachines' },
  { method: 'GET', segments: ['machinecatalogs', ':nameOrId', 'machines'], operation: 'machineCatalogMachines' },
];

/** Path roots that are not a customer id, so `/{root}/tokens/clients` is never the US Gov token endpoint. */
const RESERVED_ROOTS = new Set(['catalogservice', 'cctrustoauth2', 'cvad', '__admin']);

/** The path's segments, percent-decoded; undefined when one of them does not decode. */
export function splitPath(path: string): string[] | undefined {
  try {
    const segments = path.split('/').slice(1).map(decodeURIComponent);
    if (segments.length > 1 && segments.at(-1) === '') segments.pop();
    return segments;
  } catch {
    return undefined;
  }
}

export function matchRoute(method: string, segments: string[]): Route {
  const [root, ...rest] = segments;
  const tokenPath = (parts: (string | undefined)[]) =>
    parts.length === 3 && !!parts[0] && parts[1]?.toLowerCase() === 'tokens' && parts[2]?.toLowerCase() === 'clients';
  const tokenRoute = (customerId: string, flow: string): Route =>
    method === 'POST'
      ? { operation: 'token', params: { customerId, flow } }
      : { operation: 'unknown', params: {}, allow: 'POST' };
  if (root?.toLowerCase() === 'cctrustoauth2' && tokenPath(rest)) return tokenRoute(rest[0] ?? '', 'oauth');
  if (root && !RESERVED_ROOTS.has(root.toLowerCase()) && tokenPath(segments)) return tokenRoute(root, 'cctrust');
  if (root?.toLowerCase() === 'cvad' && rest[0]?.toLowerCase() === 'manage') {
    return { ...matchTable(DAAS_ROUTES, method, rest.slice(1)), daas: true };
  }
  if (root?.toLowerCase() !== 'catalogservice') return { operation: 'unknown', params: {} };
  return matchTable(API_ROUTES, method, rest);
}

function matchTable(table: RouteTable, method: string, rest: string[]): Route {
  const allowed: string[] = [];
  for (const route of table) {
    if (route.segments.length !== rest.length) continue;
    const params: Record<string, string> = {};
    const fits = route.segments.every((pattern, i) => {
      const segment = rest[i] ?? '';
      if (pattern.startsWith(':')) params[pattern.slice(1)] = segment;
      return pattern.startsWith(':') ? segment !== '' : pattern === segment.toLowerCase();
    });
    if (!fits) continue;
    if (route.method === method) return { operation: route.operation, params };
    allowed.push(route.method);
  }
  return { operation: 'unknown', params: {}, allow: allowed.length ? allowed.join(', ') : undefined };
}
