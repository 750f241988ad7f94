/**
 * What a worker checks before it takes a task: that Citrix Cloud accepts its credentials (a wrong secret would
 * otherwise fail every update it picks up) and that the namespace has the search attributes rollouts need. Citrix
 * being unreachable or busy is not a reason to refuse: updates wait out an outage, so the worker starts and says so.
 */
import {
  CitrixAuthError,
  type CitrixClient,
  CitrixError,
  CitrixForbiddenError,
  CitrixInvalidArgumentError,
} from '../citrix';
import { sameId } from '../citrix/ids';
import { SearchAttributesMissingError, missingSearchAttributes } from '../client/search-attributes';

export class PreflightError extends Error {
  override name = 'PreflightError';
}

export type PreflightWarning = string;

/** Refuses (throws) when Citrix rejects the credentials or the site; returns a warning when it cannot tell. */
export async function checkCitrixAccess(citrix: CitrixClient): Promise<PreflightWarning | undefined> {
  try {
    const sites = await citrix.listSites();
    // The configured site, or the customer's only one (refused when there are several to choose from).
    const siteId = await citrix.getSiteId();
    if (!sites.some((site) => sameId(site.id, siteId))) {
      throw new PreflightError(
        `Citrix Cloud has no site ${siteId} for this customer (sites: ${sites.map((s) => s.id).join(', ') || 'none'}): ` +
          'check CITRIX_SITE_ID, or leave it unset to use the only site',
      );
    }
    return undefined;
  } catch (error) {
    if (error instanceof PreflightError) throw error;
    if (error instanceof CitrixAuthError || error instanceof CitrixForbiddenError) {
      throw new PreflightError(
        `Citrix Cloud refused the worker's credentials (${error.message}): check CITRIX_CUSTOMER_ID, CITRIX_CLIENT_ID ` +
          'and CITRIX_CLIENT_SECRET (an API client of Citrix Cloud > Identity and Access Management > API Access), ' +
          'and CITRIX_REGION',
        { cause: error },
      );
    }
    if (error instanceof CitrixInvalidArgumentError) throw new PreflightError(error.message, { cause: error });
    if (error instanceof CitrixError) {
      return `Citrix Cloud could not be checked at start (${error.message}): the worker starts, and updates retry`;
    }
    throw error;
  }
}

/** Refuses (throws) when the namespace lacks the project's search attributes. */
export async function checkSearchAttributes(
  operatorService: Parameters<typeof missingSearchAttributes>[0],
  namespace: string,
): Promise<PreflightWarning | undefined> {
  const missing = await missingSearchAttributes(operatorService, namespace);
  if (missing === undefined) {
    return `the search attributes of namespace ${namespace} could not be listed: rollouts fail if they are missing`;
  }
  if (missing.length > 0) throw new SearchAttributesMissingError(namespace, missing);
  return undefined;
}
