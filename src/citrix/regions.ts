import { CitrixInvalidArgumentError } from './errors';

/** Citrix Cloud API hosts by region. The catalog service is geo-dependent: use the region the tenant lives in. */
export const CITRIX_API_HOSTS = {
  global: 'api.cloud.com',
  us: 'api-us.cloud.com',
  eu: 'api-eu.cloud.com',
  'ap-s': 'api-ap-s.cloud.com',
  jp: 'api.citrixcloud.jp',
  'us-gov': 'api.cloud.us',
} as const;
export type CitrixRegion = keyof typeof CITRIX_API_HOSTS;

/** The region's API host. The region may come from untyped configuration, so an unknown one is refused here. */
export function regionHost(region: CitrixRegion | undefined): string {
  const host = CITRIX_API_HOSTS[region ?? 'global'];
  if (!host) throw new CitrixInvalidArgumentError(`unknown Citrix Cloud region "${region}"`);
  return host;
}

/**
 * Regions whose DaaS REST API (`cvad/manage`) host is unconfirmed. Citrix's sources name
 * `https://api.cloud.com/cvad/manage` and, for Japan, `https://api.citrixcloud.jp/cvad/manage`; for these regions the
 * client assumes the region's Catalog Service host serves it too, by analogy only. A tenant there should set
 * `daasBaseUrl` explicitly.
 */
export const UNCONFIRMED_DAAS_REGIONS: ReadonlySet<CitrixRegion> = new Set(['us', 'eu', 'ap-s', 'us-gov']);

/** The DaaS REST API's base URL on the region's host (see `UNCONFIRMED_DAAS_REGIONS`). */
export function defaultDaasBaseUrl(region: CitrixRegion | undefined): string {
  return `https://${regionHost(region)}/cvad/manage`;
}
