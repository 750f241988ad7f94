/**
 * The response shapes the client accepts, checked field by field: a wrong type is a clear `CitrixInvalidResponseError`
 * instead of a `TypeError` somewhere later, free text is cleaned and bounded, and fields the project does not read are
 * dropped. Citrix adds enum values between service versions, so enums are read as bounded strings.
 */
import { z } from 'zod';
import { isGuid, isImageId } from './ids';
import { type SecretRedactor, stripControl, truncate } from './sanitize';
import type { DaasMachine } from './machines';
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

/** The field shapes every answer is built of. */
function fieldShapes(redactor: SecretRedactor) {
  /** Free text: redacted, without control characters, bounded. */
  const text = (max: number) => z.string().transform((value) => truncate(redactor.redact(stripControl(value)), max));
  const maybe = <T extends z.ZodType>(schema: T) => z.union([schema, nothing]);
  return {
    text,
    maybe,
    code: text(MAX_CODE_CHARS),
    guid: z.string().refine(isGuid, 'is not a GUID'),
    count: z.number().int().nonnegative(),
  };
}

export function responseShapes(redactor: SecretRedactor) {
  const { text, maybe, code, guid, count } = fieldShapes(redactor);

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

/** Longest `ContinuationToken` accepted: it is sent back in a URL that error messages quote. */
export const MAX_CONTINUATION_TOKEN_CHARS = 2_048;

/**
 * The DaaS REST API's answers (PascalCase): collections `{Items, ContinuationToken}` of machines and of machine
 * catalogs, read into the project's camelCase types.
 */
export function daasShapes(redactor: SecretRedactor) {
  const { text, maybe, code, count } = fieldShapes(redactor);
  const id = code.refine((value) => value.length > 0, 'is empty');
  // Sent back verbatim, so never altered: one that is not a plain token, or that looks like a credential, is refused.
  const continuation = z
    .string()
    .max(MAX_CONTINUATION_TOKEN_CHARS)
    .refine((value) => /^[\x21-\x7e]*$/.test(value) && redactor.redact(value) === value, 'is not a plain token')
    .transform((value) => value || undefined);
  const collection = <T extends z.ZodType>(item: T) =>
    z
      .object({ Items: z.array(item).max(MAX_LIST_ITEMS), ContinuationToken: maybe(continuation) })
      .transform((page) => ({ items: page.Items, continuationToken: page.ContinuationToken }));
  const reference = z.object({ Id: maybe(code), Name: maybe(text(MAX_NAME_CHARS)) });

  const machine = z
    .object({
      Id: id,
      Name: maybe(text(MAX_NAME_CHARS)),
      MachineCatalog: maybe(reference),
      RegistrationState: maybe(code),
      PowerState: maybe(code),
      FaultState: maybe(code),
      InMaintenanceMode: maybe(z.boolean()),
      SessionCount: maybe(count),
      LastDeregistrationReason: maybe(code),
      FormattedLastDeregistrationTime: maybe(code),
      Hosting: maybe(z.object({ ImageOutOfDate: maybe(z.boolean()) })),
    })
    .transform((m): DaasMachine =>
      definedOnly({
        id: m.Id,
        name: m.Name,
        machineCatalogId: m.MachineCatalog?.Id,
        registrationState: m.RegistrationState,
        powerState: m.PowerState,
        faultState: m.FaultState,
        inMaintenanceMode: m.InMaintenanceMode,
        sessionCount: m.SessionCount,
        lastDeregistrationReason: m.LastDeregistrationReason,
        lastDeregistrationTime: m.FormattedLastDeregistrationTime,
        imageOutOfDate: m.Hosting?.ImageOutOfDate,
      }),
    );

  const machineCatalog = z
    .object({ Id: id, Name: maybe(text(MAX_NAME_CHARS)), ProvisioningScheme: maybe(reference) })
    .transform((c) => ({ id: c.Id, name: c.Name, provisioningSchemeId: c.ProvisioningScheme?.Id }));

  return { machines: collection(machine), machineCatalogs: collection(machineCatalog) };
}

export type DaasShapes = ReturnType<typeof daasShapes>;

/** The object without its undefined fields, so that what Citrix left out or sent as null reads as absent. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

/** The first few problems of a failed parse, as one line naming the fields (never their values). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message.replace(/^Invalid input: /, '')}`)
    .join('; ');
}
