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
  | 'BuilderPending'
  | 'BuilderRunning'
  | 'BuilderFailed'
  | 'Failed'
  | 'AzureResourcesNotFound'
>;

export interface CatalogWarning {
  type?: string | null;
  isDismissible?: boolean;
  warningMessage?: string | null;
  isError?: boolean;
}

/** `CatalogOverview`: one catalog as `GET /{customerId}/{siteId}/catalogs/{catalogId}` answers it. */
export interface Catalog {
  id: string;
  name: string;
  state: CatalogState;
  subState?: string | null;
  statusMessage?: string | null;
  warnings?: CatalogWarning[] | null;
  transactionId?: string | null;
  imageId?: string | null;
  templateImageName?: string | null;
  taskCompletionPercentage?: number | null;
  lastModifiedTime?: string | null;
  totalMachinesInCatalog?: number;
  numOfUsers?: number;
  region: string;
  subscriptionName: string;
  resourceGroup: string;
  [field: string]: unknown;
}

/** `CatalogConfiguration`: a catalog as the catalog list answers it. */
export interface CatalogSummary {
  id: string;
  name: string;
  state?: CatalogState;
  imageId?: string | null;
  [field: string]: unknown;
}

/** `TemplateImageOverview` / `TemplateImageDetails`. */
export interface TemplateImage {
  id: string;
  name: string;
  state: TemplateImageState;
  subState?: string | null;
  citrixPrepared?: boolean;
  isDeprecated?: boolean;
  osName?: string | null;
  vdaVersion?: string | null;
  region?: string | null;
  [field: string]: unknown;
}

export interface Site {
  id: string;
  displayName?: string | null;
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
