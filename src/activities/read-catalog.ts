import { ApplicationFailure } from '@temporalio/common';
import { type Catalog, type CitrixClient, CitrixNotFoundError } from '../citrix';
import { FailureType } from '../shared';
import { citrixCall, errorDetails } from './citrix-failures';

/** Reads a catalog before an update starts; a catalog that is not there fails for good, naming the site searched. */
export function readCatalog(citrix: CitrixClient, catalogId: string): Promise<Catalog> {
  return citrixCall(
    () => citrix.getCatalog(catalogId),
    async (error) =>
      error instanceof CitrixNotFoundError
        ? ApplicationFailure.nonRetryable(
            `catalog ${catalogId} was not found in site ${await citrix.getSiteId()}: check the catalog id ` +
              `(the starter's "catalogs" command lists them) and the site`,
            FailureType.CatalogNotFound,
            errorDetails(error),
          )
        : undefined,
  );
}
