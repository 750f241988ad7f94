/**
 * Connections to the receivers an administrator configures on the worker (the notification webhook, the analysis
 * gate): their URLs are secrets and their answers are outside text, so both are handled with care.
 */
import { type LookupAddress, lookup } from 'node:dns';
import { Agent } from 'undici';
import { isLinkLocalHost } from '../citrix';

/**
 * Connections that refuse a host resolving to a link-local or cloud metadata address, so that a configured URL (or
 * its DNS) cannot point the worker at the instance's credentials.
 */
export function outboundDispatcher(what: string): Agent {
  return new Agent({
    connections: 4,
    connect: {
      lookup: (hostname, options, callback) =>
        lookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
          if (error) return callback(error, '', 0);
          const allowed = addresses.filter((entry) => !isLinkLocalHost(entry.address));
          if (allowed.length === 0) {
            return callback(
              Object.assign(new Error(`${what} resolves to a link-local address`), { code: 'EACCES' }),
              '',
              0,
            );
          }
          if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
          callback(null, allowed[0]!.address, allowed[0]!.family);
        }),
    },
  });
}
