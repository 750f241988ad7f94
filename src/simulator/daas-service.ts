import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticationFailure } from './catalog-service';
import { HttpError, send } from './http';
import type { SimMachine } from './machines';
import type { Route } from './routes';
import type { SimCatalog } from './seed';
import type { SimDeliveryGroup } from './delivery-groups';
import type { SimState } from './state';
import {
  DAAS_DEFAULT_PAGE_LIMIT,
  DAAS_MAX_PAGE_LIMIT,
  DAAS_MISSING_HEADER_STATUS,
  DAAS_UNKNOWN_CUSTOMER_STATUS,
  DAAS_UNKNOWN_SITE_STATUS,
  continuationTokenFor,
  daasError,
  imageUpdateStatus,
  meBody,
  offsetOfContinuationToken,
  provisioningSchemeIdOf,
  selectFields,
  unknownCustomerBody,
} from './unconfirmed';

type Model = Record<string, unknown>;

/**
 * The DaaS REST API (`/cvad/manage`) as far as a health check reads it: `/me`, a delivery group, its machine catalogs
 * and machines, and a machine catalog's machines. Each Quick Deploy catalog's delivery group holds its machines.
 */
export class DaasService {
  constructor(private readonly state: SimState) {}

  /** The catalog a request is about, so that a fault can match DaaS calls by `catalogId` too. */
  catalogOf(route: Route): string | undefined {
    const { nameOrId } = route.params;
    if (!nameOrId) return undefined;
    if (route.operation === 'machineCatalogMachines') return this.state.catalogByIdOrName(nameOrId)?.id;
    return this.state.deliveryGroup(nameOrId)?.catalogIds[0];
  }

  /** Checks the token and the `Citrix-CustomerId` and `Citrix-InstanceId` headers, then answers the operation. */
  handle(req: IncomingMessage, res: ServerResponse, route: Route, query: URLSearchParams): void {
    const { seed } = this.state;
    const refused = authenticationFailure(req, this.state);
    if (refused) return send(res, 401, refused);
    const customerId = header(req, 'citrix-customerid');
    if (!customerId) throw missingHeader('Citrix-CustomerId');
    if (customerId.toLowerCase() !== seed.customerId.toLowerCase()) {
      return send(res, DAAS_UNKNOWN_CUSTOMER_STATUS, unknownCustomerBody());
    }
    if (route.operation === 'me') return send(res, 200, meBody(seed));
    const siteId = header(req, 'citrix-instanceid');
    if (!siteId) throw missingHeader('Citrix-InstanceId');
    if (siteId.toLowerCase() !== seed.site.id.toLowerCase()) {
      throw new HttpError(
        DAAS_UNKNOWN_SITE_STATUS,
        daasError(DAAS_UNKNOWN_SITE_STATUS, `Site ${siteId} was not found.`),
      );
    }

    const now = Date.now();
    const nameOrId = route.params.nameOrId ?? '';
    const fields = query.get('fields');
    if (route.operation === 'machineCatalogMachines') {
      const catalog = this.state.catalogByIdOrName(nameOrId);
      if (!catalog) throw notFound(`Machine catalog ${nameOrId} was not found.`);
      return send(res, 200, this.machinesPage([catalog], query, now, fields));
    }
    const group = this.state.deliveryGroup(nameOrId);
    if (!group) throw notFound(`Delivery group ${nameOrId} was not found.`);
    const catalogs = group.catalogIds.map((id) => this.state.readCatalog(id, now) as SimCatalog);
    switch (route.operation) {
      case 'deliveryGroup':
        return send(res, 200, selectFields(this.groupModel(group, catalogs, now), fields));
      case 'deliveryGroupMachineCatalogs': {
        const { offset, limit } = pageOf(query);
        const items = catalogs.slice(offset, offset + limit).map((catalog) => this.machineCatalogModel(catalog, now));
        return send(res, 200, collection(items, fields, offset, limit, catalogs.length));
      }
      case 'deliveryGroupMachines':
        return send(res, 200, this.machinesPage(catalogs, query, now, fields));
      default:
        throw notFound(`No resource at ${req.method ?? 'GET'} ${req.url ?? ''}`);
    }
  }

  /** One page of the catalogs' machines, one catalog after another; only the machines on the page are worked out. */
  private machinesPage(catalogs: SimCatalog[], query: URLSearchParams, now: number, fields: string | null): Model {
    const { offset, limit } = pageOf(query);
    const items: Model[] = [];
    let start = 0;
    for (const catalog of catalogs) {
      const count = catalog.totalMachinesInCatalog ?? 0;
      const from = Math.max(0, offset - start);
      const to = Math.min(count, offset + limit - start);
      if (from < to) {
        const group = catalog.deliveryGroupId ? this.state.deliveryGroup(catalog.deliveryGroupId) : undefined;
        for (const machine of this.state.readMachines(catalog.id, now, from, to)) {
          items.push(this.machineModel(machine, catalog, group));
        }
      }
      start += count;
    }
    return collection(items, fields, offset, limit, start);
  }

  private machineModel(machine: SimMachine, catalog: SimCatalog, group: SimDeliveryGroup | undefined): Model {
    return {
      Id: machine.id,
      Name: machine.name,
      DnsName: machine.dnsName,
      Sid: machine.sid,
      MachineCatalog: this.catalogReference(catalog),
      DeliveryGroup: group ? { Id: group.id, Uid: group.uid, Name: group.name } : null,
      RegistrationState: machine.registrationState,
      PowerState: machine.powerState,
      FaultState: machine.faultState,
      InMaintenanceMode: machine.inMaintenanceMode,
      SessionCount: machine.sessionCount,
      LastDeregistrationReason: machine.lastDeregistrationReason,
      FormattedLastDeregistrationTime: machine.lastDeregistrationTime,
      LastConnectionFailure: 'None',
      AgentVersion: (machine.bootedImageId && this.state.getImage(machine.bootedImageId)?.vdaVersion) ?? null,
      Hosting: { HostedMachineName: machine.hostName.toLowerCase(), ImageOutOfDate: machine.imageOutOfDate },
    };
  }

  private catalogReference(catalog: SimCatalog): Model {
    return { Id: catalog.id, Uid: this.state.catalogUid(catalog.id) ?? null, Name: catalog.name };
  }

  private machineCatalogModel(catalog: SimCatalog, now: number): Model {
    const machines = this.state.readMachines(catalog.id, now);
    const outOfDate = machines.filter((machine) => machine.imageOutOfDate).length;
    return {
      ...this.catalogReference(catalog),
      FullName: catalog.name,
      SessionSupport: catalog.sessionSupport,
      AllocationType: catalog.allocationType,
      ProvisioningType: 'MCS',
      ProvisioningScheme: {
        Id: provisioningSchemeIdOf(catalog),
        Name: catalog.name,
        MasterImage: { Id: catalog.imageId, Name: catalog.templateImageName },
      },
      ImageUpdateStatus: imageUpdateStatus(catalog.state === 'Processing', outOfDate, machines.length),
      TotalCount: machines.length,
    };
  }

  private groupModel(group: SimDeliveryGroup, catalogs: SimCatalog[], now: number): Model {
    const machines = catalogs.flatMap((catalog) => this.state.readMachines(catalog.id, now));
    const [first] = catalogs;
    return {
      Id: group.id,
      Uid: group.uid,
      Name: group.name,
      FullName: group.name,
      Description: null,
      SessionSupport: first?.sessionSupport ?? null,
      InMaintenanceMode: false,
      TotalMachines: machines.length,
      RegisteredMachines: machines.filter((m) => m.registrationState === 'Registered').length,
      DesktopsUnregistered: machines.filter((m) => m.registrationState !== 'Registered').length,
      DesktopsFaulted: machines.filter((m) => m.faultState !== 'None' && m.faultState !== 'Unknown').length,
      MachinesInMaintenanceMode: machines.filter((m) => m.inMaintenanceMode).length,
      SessionCount: machines.reduce((sum, m) => sum + m.sessionCount, 0),
    };
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
}

const missingHeader = (name: string) =>
  new HttpError(
    DAAS_MISSING_HEADER_STATUS,
    daasError(DAAS_MISSING_HEADER_STATUS, `The ${name} header is required.`, [{ name: 'header', value: name }]),
  );

const notFound = (detail: string) => new HttpError(404, daasError(404, detail));

/** `limit` and `continuationToken`, checked. */
function pageOf(query: URLSearchParams): { offset: number; limit: number } {
  const limitText = query.get('limit');
  const limit = limitText === null ? DAAS_DEFAULT_PAGE_LIMIT : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '1') || limit < 1 || limit > DAAS_MAX_PAGE_LIMIT) {
    throw new HttpError(400, daasError(400, `limit must be an integer from 1 to ${DAAS_MAX_PAGE_LIMIT}.`));
  }
  const token = query.get('continuationToken');
  if (!token) return { offset: 0, limit };
  const offset = offsetOfContinuationToken(token);
  if (offset === undefined) throw new HttpError(400, daasError(400, 'The continuation token is not valid.'));
  return { offset, limit };
}

/** `{Items, ContinuationToken}`: a token while items remain after this page, null at the end. */
function collection(items: Model[], fields: string | null, offset: number, limit: number, total: number): Model {
  return {
    Items: items.map((item) => selectFields(item, fields)),
    ContinuationToken: offset + limit < total ? continuationTokenFor(offset + limit) : null,
  };
}
