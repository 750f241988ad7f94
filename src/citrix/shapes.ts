/**
 * The response shapes the client accepts, checked field by field: a wrong type is a clear `CitrixInvalidResponseError`
 * instead of a `TypeError` somewhere later, free text is cleaned and bounded, and fields the project does not read are
 * dropped. Citrix adds enum values between service versions, so enums are read as bounded strings.
 */
import { z } from 'zod';
import { isGuid, isImageId } from './ids';
import { type SecretRedactor, stripControl, truncate } from './sanitize';
import type { Catalog, CatalogSummary, Site, TemplateImage } from './types';

/** Longest name kept from a response (catalogs, images, sites). */
export const MAX_NAME_CHARS = 256;
/** Longest message kept from a response (status messages, warnings). */
export const MAX_MESSAGE_CHARS = 1_000;
/** Most warnings kept per catalog. */
export const MAX_WARNINGS = 20;
/** Most items accepted in one list answer. */
export const MAX_LIST_ITEMS = 20_000;
/** Enum values, ids, times and other short codes. */
const MAX_CODE_CHARS = 128;

const nothing = z
  .null()
  .optional()
  .transform(() => undefined);

export function responseShapes(redactor: SecretRedactor) {
  /** Free text: redacted, without control characters, bounded. */
  const text = (max: number) => z.string().transform((value) => truncate(redactor.redact(stripControl(value)), max));
  const maybe = <T extends z.ZodType>(schema: T) => z.union([schema, nothing]);
  const code = text(MAX_CODE_CHARS);
  const guid = z.string().refine(isGuid, 'is not a GUID');
  const count = z.number().int().nonnegative();

  const warning = z.object({
    type: maybe(code),
    isDismissible: maybe(z.boolean()),
    warningMessage: maybe(text(MAX_MESSAGE_CHARS)),
    isError: maybe(z.boolean()),
  });

  const catalogSummary = z.object({
    id: guid,
    name: text(MAX_NAME_CHARS),
    state: maybe(code),
    imageId: maybe(code),
    templateImageName: maybe(text(MAX_NAME_CHARS)),
    sessionSupport: maybe(code),
    region: maybe(code),
    subscriptionName: maybe(text(MAX_NAME_CHARS)),
  });

  const catalog = catalogSummary.extend({
    state: code,
    subState: maybe(code),
    statusMessage: maybe(text(MAX_MESSAGE_CHARS)),
    extraInfo: maybe(text(MAX_MESSAGE_CHARS)),
    warnings: maybe(z.array(warning).transform((all) => all.slice(0, MAX_WARNINGS))),
    transactionId: maybe(code),
    taskCompletionPercentage: maybe(z.number()),
    lastModifiedTime: maybe(code),
    totalMachinesInCatalog: maybe(count),
    numOfUsers: maybe(count),
    subscriptionId: maybe(code),
    resourceGroup: maybe(text(MAX_NAME_CHARS)),
    allocationType: maybe(code),
    persistStaticAllocatedVmDisks: maybe(z.boolean()),
    deliveryGroupId: maybe(code),
    vdaProvisioningSchemeId: maybe(code),
    catalogType: maybe(code),
  });

  const image = z.object({
    id: z.string().refine(isImageId, 'is not a template image id'),
    name: text(MAX_NAME_CHARS),
    state: code,
    subState: maybe(code),
    citrixPrepared: maybe(z.boolean()),
    isDeprecated: maybe(z.boolean()),
    sessionSupport: maybe(code),
    osName: maybe(text(MAX_NAME_CHARS)),
    vdaVersion: maybe(code),
    region: maybe(code),
    subscriptionName: maybe(text(MAX_NAME_CHARS)),
    createdDate: maybe(code),
    linkedCatalogs: maybe(count),
  });

  const site = z.object({ id: z.string(), displayName: maybe(text(MAX_NAME_CHARS)) });

  /** `{items: […]}`, or the legacy alias Citrix still sends beside it. */
  const list = <T extends z.ZodType>(item: T, legacyAlias: string) =>
    z
      .object({ items: z.array(z.unknown()).optional(), [legacyAlias]: z.array(z.unknown()).optional() })
      .transform((body, context) => {
        const items = body.items ?? body[legacyAlias];
        if (!items) {
          context.addIssue({ code: 'custom', message: 'has no "items" list' });
          return z.NEVER;
        }
        return items;
      })
      .pipe(z.array(item).max(MAX_LIST_ITEMS));

  return {
    sites: list(site, 'sites') as z.ZodType<Site[]>,
    catalogs: list(catalogSummary, 'catalogs') as z.ZodType<CatalogSummary[]>,
    catalog: catalog as z.ZodType<Catalog>,
    images: list(image, 'overviews') as z.ZodType<TemplateImage[]>,
    image: image as z.ZodType<TemplateImage>,
  };
}

export type ResponseShapes = ReturnType<typeof responseShapes>;

/** The first few problems of a failed parse, as one line naming the fields (never their values). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message.replace(/^Invalid input: /, '')}`)
    .join('; ');
}
