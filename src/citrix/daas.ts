/**
 * The DaaS REST API (`cvad/manage`): the delivery group and machines behind a Quick Deploy catalog, read with the same
 * token as the Catalog Service.
 *
 * Unconfirmed, and kept to this module: that a Quick Deploy catalog's `deliveryGroupId` is the DaaS `DeliveryGroup.Id`,
 * that its `vdaProvisioningSchemeId` is the `ProvisioningScheme.Id` of its DaaS machine catalog, and that the Catalog
 * Service's site id is the DaaS instance id (`Citrix-InstanceId`). The hosts of most regions are unconfirmed too
 * (`UNCONFIRMED_DAAS_REGIONS`).
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  CitrixError,
  type CitrixErrorDetails,
  CitrixForbiddenError,
  CitrixInvalidArgumentError,
  CitrixInvalidResponseError,
  CitrixNotFoundError,
} from './errors';
import { type Exchanged, MAX_RESPONSE_BYTES } from './http';
import { sameId } from './ids';
import { type CatalogMachines, type DaasMachine, MAX_MACHINES_PER_CATALOG } from './machines';
import { detailsOf, transactionNote } from './responses';
import { MAX_NAME_CHARS, type DaasShapes, daasShapes, describeIssues } from './shapes';
import { type SecretRedactor, stripControl } from './sanitize';

/** Items asked for per page: the most the DaaS REST API serves in one. */
export const DAAS_PAGE_LIMIT = 1_000;
/**
 * Pages read for one catalog at most. Citrix may answer shorter pages than asked for, so this leaves room beyond
 * `MAX_MACHINES_PER_CATALOG / DAAS_PAGE_LIMIT`; past it the list counts as truncated.
 */
export const MAX_MACHINE_PAGES = 100;

/** Sends a GET with the client's token (renewed once on a 401) and throws the client's error for an answer outside 2xx. */
export type AuthorizedGet = (
  url: string,
  operation: string,
  headers: (token: string) => Record<string, string>,
  maxBytes: number,
) => Promise<Exchanged>;

export interface DaasApiOptions {
  baseUrl: string;
  customerId: string;
  userAgent: string;
  /** The site id, which the DaaS REST API takes as `Citrix-InstanceId`. */
  siteId: () => Promise<string>;
  get: AuthorizedGet;
  redactor: SecretRedactor;
}

/** Which catalog's machines to list: the ids its `CatalogOverview` names. */
export interface CatalogMachinesQuery {
  deliveryGroupId: string;
  /** When given, only the machines of the group's machine catalog with this provisioning scheme are listed. */
  vdaProvisioningSchemeId?: string;
}

export interface ListMachinesOptions {
  /**
   * Machines read at most before the list is cut (`truncated`); lower only.
   * @default MAX_MACHINES_PER_CATALOG
   */
  maxMachines?: number;
}

export class DaasApi {
  readonly #shapes: DaasShapes;

  constructor(private readonly options: DaasApiOptions) {
    this.#shapes = daasShapes(options.redactor);
  }

  /**
   * `GET /DeliveryGroups/{id}/Machines`, page by page, up to `maxMachines` machines and `MAX_MACHINE_PAGES` pages; with
   * a `vdaProvisioningSchemeId`, first `GET /DeliveryGroups/{id}/MachineCatalogs` to find the machine catalog to keep.
   */
  async listCatalogMachines(
    catalog: CatalogMachinesQuery,
    options: ListMachinesOptions = {},
  ): Promise<CatalogMachines> {
    const { deliveryGroupId, vdaProvisioningSchemeId } = catalog;
    const group = pathSegment('delivery group', deliveryGroupId);
    const maxMachines = options.maxMachines ?? MAX_MACHINES_PER_CATALOG;
    if (!Number.isInteger(maxMachines) || maxMachines < 1 || maxMachines > MAX_MACHINES_PER_CATALOG) {
      throw new CitrixInvalidArgumentError(`maxMachines must be from 1 to ${MAX_MACHINES_PER_CATALOG}`);
    }
    const siteId = await this.options.siteId();
    const machineCatalogId = vdaProvisioningSchemeId
      ? await this.machineCatalogOf(deliveryGroupId, group, vdaProvisioningSchemeId, siteId)
      : undefined;
    const machines: DaasMachine[] = [];
    let continuationToken: string | undefined;
    let truncated = false;
    for (let page = 1; ; page++) {
      if (page > MAX_MACHINE_PAGES) {
        truncated = true;
        break;
      }
      const answer = await this.readPage(
        `/DeliveryGroups/${group}/Machines`,
        continuationToken,
        'DeliveryGroups/{deliveryGroupId}/Machines',
        this.#shapes.machines,
        { what: `machine list of delivery group ${deliveryGroupId}`, deliveryGroupId, siteId },
      );
      for (const machine of answer.items) {
        if (!machineCatalogId || sameId(machine.machineCatalogId, machineCatalogId)) machines.push(machine);
      }
      const next = answer.continuationToken;
      // A full list that still has pages may have more of the catalog's machines: it counts as cut.
      if (machines.length > maxMachines || (machines.length === maxMachines && next)) {
        machines.length = maxMachines;
        truncated = true;
        break;
      }
      if (!next) break;
      if (next === continuationToken) {
        throw new CitrixInvalidResponseError(
          `the machine list of delivery group ${deliveryGroupId} answered the same ContinuationToken twice: ` +
            'the DaaS REST API is not paging; try again later',
          { method: 'GET', url: this.options.baseUrl },
        );
      }
      continuationToken = next;
    }
    return { deliveryGroupId, machines, truncated, ...(machineCatalogId && { machineCatalogId }) };
  }

  /** The id of the group's machine catalog whose provisioning scheme is `schemeId`. */
  private async machineCatalogOf(
    deliveryGroupId: string,
    group: string,
    schemeId: string,
    siteId: string,
  ): Promise<string> {
    const context = { what: `machine catalog list of delivery group ${deliveryGroupId}`, deliveryGroupId, siteId };
    let continuationToken: string | undefined;
    for (let page = 1; page <= MAX_MACHINE_PAGES; page++) {
      const answer = await this.readPage(
        `/DeliveryGroups/${group}/MachineCatalogs`,
        continuationToken,
        'DeliveryGroups/{deliveryGroupId}/MachineCatalogs',
        this.#shapes.machineCatalogs,
        context,
        'Id,Name,ProvisioningScheme',
      );
      const found = answer.items.find((item) => sameId(item.provisioningSchemeId, schemeId));
      if (found) return found.id;
      if (!answer.continuationToken || answer.continuationToken === continuationToken) break;
      continuationToken = answer.continuationToken;
    }
    throw new CitrixNotFoundError(
      `delivery group ${deliveryGroupId} has no machine catalog with provisioning scheme ${schemeId}: the catalog's ` +
        "machines cannot be told apart from the group's others; check the catalog in Citrix Studio",
      { method: 'GET', url: `${this.options.baseUrl}/DeliveryGroups/${group}/MachineCatalogs` },
    );
  }

  private async readPage<T>(
    path: string,
    continuationToken: string | undefined,
    operation: string,
    shape: z.ZodType<T>,
    context: { what: string; deliveryGroupId: string; siteId: string },
    fields?: string,
  ): Promise<T> {
    const query = new URLSearchParams({ limit: String(DAAS_PAGE_LIMIT) });
    if (continuationToken) query.set('continuationToken', continuationToken);
    if (fields) query.set('fields', fields);
    const url = `${this.options.baseUrl}${path}?${query}`;
    let response: Exchanged;
    try {
      response = await this.options.get(
        url,
        operation,
        (token) => this.headers(token, context.siteId),
        MAX_RESPONSE_BYTES.list,
      );
    } catch (error) {
      throw withAdvice(error, context);
    }
    const parsed = shape.safeParse(response.body);
    if (parsed.success) return parsed.data;
    throw new CitrixInvalidResponseError(
      `GET ${response.url} answered ${response.status} with a malformed ${context.what} ` +
        `(${describeIssues(parsed.error)})${transactionNote(response.transactionId)}`,
      detailsOf('GET', response),
    );
  }

  private headers(token: string, siteId: string): Record<string, string> {
    return {
      // Citrix's Go SDK spells the scheme so for the DaaS REST API; Citrix matches it case-insensitively.
      authorization: `CWSAuth bearer=${token}`,
      'citrix-customerid': this.options.customerId,
      'citrix-instanceid': siteId,
      accept: 'application/json',
      'user-agent': this.options.userAgent,
      'citrix-transactionid': randomUUID(),
    };
  }
}

/** A delivery group named by id (or by name, which the API takes too), safe as one path segment. */
function pathSegment(what: string, value: unknown): string {
  if (typeof value !== 'string' || !value || value.length > MAX_NAME_CHARS || stripControl(value) !== value) {
    throw new CitrixInvalidArgumentError(`${what} id "${String(value).slice(0, 80)}" is not a DaaS id or name`);
  }
  return encodeURIComponent(value);
}

/** A refusal or a missing group, with what the operator can do about it. */
function withAdvice(error: unknown, context: { deliveryGroupId: string; siteId: string }): unknown {
  if (!(error instanceof CitrixError)) return error;
  const details: CitrixErrorDetails = {
    method: error.method,
    url: error.url,
    status: error.status,
    detail: error.detail,
    transactionId: error.transactionId,
    retryAfterMs: error.retryAfterMs,
  };
  if (error instanceof CitrixForbiddenError) {
    return new CitrixForbiddenError(
      `${error.message}: the API client may not read DaaS delivery groups and machines in site ${context.siteId}; ` +
        'give it an administrator role that can',
      details,
    );
  }
  if (error instanceof CitrixNotFoundError) {
    return new CitrixNotFoundError(
      `${error.message}: site ${context.siteId} has no delivery group ${context.deliveryGroupId}; check the ` +
        "catalog's deliveryGroupId and that the DaaS base URL is the tenant's region",
      details,
    );
  }
  return error;
}
