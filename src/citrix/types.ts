/**
 * The parts of the Catalog Service's response shapes (`catalogservice.openapi.yaml`) that catalog-rollout reads.
 * Citrix adds enum values between service versions, so every enum also admits unknown strings.
 */

type OpenString<Known extends string> = Known | (string & {});

export const CATALOG_STATES = [
  'PreDeployment',
  'Active',
  'Processing',
  'InputRequired',
  'Error',
  'Deleting',
  'Unknown',
  'NotFound',
] as const;
export type CatalogState = OpenString<(typeof CATALOG_STATES)[number]>;

export type TemplateImageState = OpenString<
  | 'Ready'
  | 'Pending'
  | 'Importing'
  | 'Enumerating'
  | 'NotStarted'
  | 'BuilderProvisioning'
  | 'BuilderActive'
  | 'BuilderStopped'
  | 'BuilderVerifying'
  | 'BuilderRestarting'
  | 'Failed'
  | 'AzureResourcesNotFound'
>;

export interface CatalogWarning {
  type?: string;
  isDismissible?: boolean;
  warningMessage?: string;
  isError?: boolean;
}

/**
 * `CatalogConfiguration`: a catalog as the catalog list answers it, with the fields the project reads. Free text is
 * cleaned and bounded (`shapes.ts`); a field Citrix sends as null reads as absent.
 */
export interface CatalogSummary {
  id: string;
  name: string;
  state?: CatalogState;
  imageId?: string;
  templateImageName?: string;
  sessionSupport?: string;
  region?: string;
  subscriptionName?: string;
}

/** `CatalogOverview`: one catalog as `GET /{customerId}/{siteId}/catalogs/{catalogId}` answers it. */
export interface Catalog extends CatalogSummary {
  state: CatalogState;
  subState?: string;
  statusMessage?: string;
  extraInfo?: string;
  warnings?: CatalogWarning[];
  transactionId?: string;
  taskCompletionPercentage?: number;
  lastModifiedTime?: string;
  totalMachinesInCatalog?: number;
  numOfUsers?: number;
  subscriptionId?: string;
  resourceGroup?: string;
  allocationType?: string;
  persistStaticAllocatedVmDisks?: boolean;
  deliveryGroupId?: string;
  vdaProvisioningSchemeId?: string;
  catalogType?: string;
}

/** `TemplateImageOverview` / `TemplateImageDetails`, with the fields the project reads. */
export interface TemplateImage {
  id: string;
  name: string;
  state: TemplateImageState;
  subState?: string;
  citrixPrepared?: boolean;
  isDeprecated?: boolean;
  sessionSupport?: string;
  osName?: string;
  vdaVersion?: string;
  region?: string;
  subscriptionName?: string;
  createdDate?: string;
  linkedCatalogs?: number;
}

export interface Site {
  id: string;
  displayName?: string;
}

/** `UpdateCatalogTemplateImageModel`, the body of `$updateImage`. */
export interface UpdateImageRequest {
  /** The image to move the catalog to. */
  templateId: string;
  /** `false` for a customer image. */
  citrixPrepared: boolean;
  /** Minutes: `-1` update at each machine's next shutdown, `0` restart all machines now, `N` spread restarts over N minutes. */
  vdaUpdateDelay: number;
  warningTitle?: string;
  /** Shown to users before a restart; `%m%` stands for the minutes left. */
  warningMessage?: string;
}

export interface UpdateImageAccepted {
  catalogId: string;
  /** The `citrix-transactionId` of the accepted request. */
  transactionId?: string;
  /** The `location` header (`.../catalogs/{id}/updateStatus`). */
  location?: string;
}
