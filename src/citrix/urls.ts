import { isIP } from 'node:net';

/** Loopback names and addresses: the only hosts a plain `http:` URL may name (a local simulator, a test receiver). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/**
 * Link-local addresses (169.254.0.0/16, fe80::/10) and the cloud metadata endpoints reached through them or by name:
 * never a place to send a secret or a notification.
 */
export function isLinkLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host) === 4) return host.startsWith('169.254.') || host === '100.100.100.200';
  if (isIP(host) === 6) return /^fe[89ab][0-9a-f]:/.test(host) || host.startsWith('fd00:ec2::');
  return host === 'metadata.google.internal' || host === 'metadata';
}

/**
 * Why `value` cannot be an endpoint that the worker sends credentials or data to, or `undefined` when it can: an
 * `https:` URL (`http:` only to a loopback host), without user name or password in it, not on a link-local host.
 */
export function outboundUrlProblem(value: string, name: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${name} must be a URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `${name} must be an https: URL, not ${url.protocol}`;
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return `${name} must use https: (plain http: is allowed to a loopback address only)`;
  }
  if (url.username || url.password) return `${name} must not carry a user name or password`;
  if (isLinkLocalHost(url.hostname)) return `${name} names a link-local or cloud metadata address`;
  return undefined;
}
