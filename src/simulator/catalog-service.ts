import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultList } from './faults';
import { HttpError, badRequest, notFound, readJson, send } from './http';
import type { Route } from './routes';
import type { SimCatalog, SimImage } from './seed';
import type { SimState } from './state';
import {
  CITRIX_PREPARED_DEFAULT,
  DEFAULT_VDA_UPDATE_DELAY,
  UNKNOWN_CUSTOMER_STATUS,
  WRONG_STATE_STATUS,
  citrixPreparedMismatch,
  serviceError,
  unknownCustomerBody,
  updateStatusBody,
} from './unconfirmed';

const AUTHORIZATION = /^\s*cwsauth\s+bearer\s*=\s*([^\s,;]+)\s*$/i;
const JSON_CONTENT_TYPE = /^(application\/(json|json-patch\+json|[\w.+-]+\+json)|text\/json)\s*(;|$)/i;
const UPDATE_FIELDS = new Map(
  ['templateId', 'citrixPrepared', 'vdaUpdateDelay', 'warningTitle', 'warningMessage'].map((name) => [
    name.toLowerCase(),
    name,
  ]),
);

/** The Catalog Service's own operations: sites, catalogs, images, `$updateImage` and an update's status. */
export class CatalogService {
  constructor(
    private readonly state: SimState,
    private readonly faults: FaultList,
    /** Known only once the server listens; an accepted update's `Location` starts with it. */
    private readonly baseUrl: () => string,
  ) {}

  /** Checks the token, then the path's customer, site and catalog, before it answers the route's operation. */
  async handle(req: IncomingMessage, res: ServerResponse, route: Route, transactionId: string): Promise<void> {
    const { seed } = this.state;
    const refused = authenticationFailure(req, this.state);
    if (refused) return send(res, 401, refused);
    const { customerId = '', siteId, catalogId, imageId } = route.params;
    if (customerId.toLowerCase() !== seed.customerId.toLowerCase()) {
      return send(res, UNKNOWN_CUSTOMER_STATUS, unknownCustomerBody());
    }
    if (siteId !== undefined && siteId.toLowerCase() !== seed.site.id.toLowerCase()) {
      throw notFound(`Site ${siteId} was not found for customer ${customerId}.`);
    }
    if (catalogId !== undefined && !this.state.hasCatalog(catalogId)) {
      throw notFound(`Catalog ${catalogId} was not found.`);
    }

    switch (route.operation) {
      case 'sites':
        return send(res, 200, { items: [seed.site], sites: [seed.site] });
      case 'catalogs': {
        const items = this.state.readCatalogs();
        return send(res, 200, { items, catalogs: items, staleData: false });
      }
      case 'catalog':
        return send(res, 200, this.state.readCatalog(catalogId ?? ''));
      case 'updateStatus': {
        const catalog = this.state.readCatalog(catalogId ?? '') as SimCatalog;
        return send(res, 200, updateStatusBody(catalog, this.state.processingStartedAt(catalog.id)));
      }
      case 'images': {
        const items = this.readImages().map(({ image, linked }) => imageOverview(image, linked));
        return send(res, 200, { items, overviews: items, staleData: false });
      }
      case 'image': {
        const found = this.readImages().find(({ image }) => image.id.toLowerCase() === imageId?.toLowerCase());
        if (!found) throw notFound(`Template image ${imageId} was not found.`);
        const { image, linked } = found;
        return send(res, 200, {
          ...imageOverview(image, linked),
          applications: image.applications ?? [],
          catalogs: linked.map((catalog) => ({
            catalogId: catalog.id,
            catalogName: catalog.name,
            state: catalog.state,
            azureSubscription: catalog.subscriptionName,
          })),
        });
      }
      case 'updateImage':
      case 'legacyUpdateImage':
        return this.updateImage(req, res, route.operation, customerId, catalogId ?? '', transactionId);
    }
  }

  private readImages(): { image: SimImage; linked: SimCatalog[] }[] {
    const catalogs = this.state.readCatalogs();
    return this.state.listImages().map((image) => ({
      image,
      linked: catalogs.filter((catalog) => catalog.imageId?.toLowerCase() === image.id.toLowerCase()),
    }));
  }

  private async updateImage(
    req: IncomingMessage,
    res: ServerResponse,
    operation: 'updateImage' | 'legacyUpdateImage',
    customerId: string,
    catalogId: string,
    transactionId: string,
  ): Promise<void> {
    if (!JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, {
        type: 'https://errors-api.cloud.com/common/unsupportedMediaType',
        detail: 'Must use application/json media type',
      });
    }
    const { templateId, citrixPrepared, vdaUpdateDelay } = parseUpdateBody(await readJson(req));
    const image = this.state.getImage(templateId);
    if (!image) throw notFound(`Template image ${templateId} was not found.`);
    if (image.state !== 'Ready') {
      throw badRequest(
        `Template image ${image.name} (${image.id}) is in state ${image.state}; only a Ready image can be used.`,
      );
    }
    if (citrixPrepared !== image.citrixPrepared) throw badRequest(citrixPreparedMismatch(image));
    const catalog = this.state.readCatalog(catalogId) as SimCatalog;
    if (catalog.state !== 'Active' && catalog.state !== 'InputRequired') {
      const subState = catalog.subState ? ` (SubState ${catalog.subState})` : '';
      throw new HttpError(
        WRONG_STATE_STATUS,
        serviceError(
          `Catalog ${catalog.name} (${catalog.id}) is in state ${catalog.state}${subState}; its image can be updated only when it is Active or InputRequired.`,
        ),
      );
    }
    const failure = this.faults.takeUpdateFailure({ operation, method: 'POST', catalogId: catalog.id });
    this.state.startUpdate(catalog.id, image, transactionId, vdaUpdateDelay, failure);
    if (operation === 'legacyUpdateImage') return send(res, 200, catalog.id);
    const location = `${this.baseUrl()}/${customerId}/${this.state.seed.site.id}/catalogs/${catalog.id}/updateStatus`;
    send(res, 202, catalog.id, { location });
  }
}

/** The body of the 401 for a call without a valid token (`CwsAuth Bearer=`, any case), or undefined when it has one. */
export function authenticationFailure(req: IncomingMessage, state: SimState): Record<string, unknown> | undefined {
  const authorization = AUTHORIZATION.exec(req.headers.authorization ?? '');
  if (authorization?.[1] && state.isTokenValid(authorization[1])) return undefined;
  return {
    type: 'https://errors-api.cloud.com/common/authentication',
    detail: 'Missing or invalid authentication details',
    parameters: [{ name: 'reason', value: req.headers.authorization ? 'invalid' : 'missing' }],
  };
}

/** `UpdateCatalogTemplateImageModel`, bound case-insensitively as ASP.NET does (camelCase and PascalCase both work). */
function parseUpdateBody(body: unknown): { templateId: string; citrixPrepared: boolean; vdaUpdateDelay: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const name = UPDATE_FIELDS.get(key.toLowerCase());
    if (!name) throw badRequest(`The request body has an unknown property '${key}'.`);
    fields[name] = value;
  }
  const { templateId, citrixPrepared, vdaUpdateDelay, warningTitle, warningMessage } = fields;
  if (typeof templateId !== 'string' || !templateId) throw badRequest('The templateId field is required.');
  if (citrixPrepared !== undefined && typeof citrixPrepared !== 'boolean') {
    throw badRequest('citrixPrepared must be a boolean.');
  }
  if (
    vdaUpdateDelay !== undefined &&
    !(Number.isInteger(vdaUpdateDelay) && (vdaUpdateDelay as number) >= -1 && (vdaUpdateDelay as number) <= 2147483647)
  ) {
    throw badRequest('vdaUpdateDelay must be an integer between -1 and 2147483647.');
  }
  for (const [name, value] of Object.entries({ warningTitle, warningMessage })) {
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw badRequest(`${name} must be a string.`);
    }
  }
  return {
    templateId,
    citrixPrepared: (citrixPrepared as boolean | undefined) ?? CITRIX_PREPARED_DEFAULT,
    vdaUpdateDelay: (vdaUpdateDelay as number | undefined) ?? DEFAULT_VDA_UPDATE_DELAY,
  };
}

function imageOverview(image: SimImage, linked: SimCatalog[]): Record<string, unknown> {
  const { applications: _applications, ...overview } = image;
  return { ...overview, linkedCatalogs: linked.length, linkedCatalogsNames: linked.map((catalog) => catalog.name) };
}
