import { z } from 'zod';

/** A `CatalogWarning` as the Catalog Service reports it. */
export interface SimWarning {
  type: string;
  isDismissible: boolean;
  warningMessage: string | null;
  isError: boolean;
}

export interface SimSite {
  id: string;
  displayName: string | null;
}

/**
 * A catalog as stored by the simulator: the `CatalogOverview` fields it serves as they are, so every field here must be
 * one the OpenAPI schema allows.
 */
export interface SimCatalog {
  id: string;
  name: string;
  state: string;
  subState: string | null;
  statusMessage: string | null;
  warnings: SimWarning[] | null;
  transactionId: string | null;
  sessionSupport: string;
  allocationType: string;
  offeringId: string;
  offeringIdApp: string;
  offeringIdDesktop: string;
  deliveryGroupId: string;
  advanced: boolean;
  subscriptionId: string | null;
  subscriptionName: string;
  resourceGroup: string;
  region: string;
  vNetName: string;
  subnet: string | null;
  domainJoined: boolean | null;
  domainName: string | null;
  vmTypeInstanceType: string | null;
  imageId: string | null;
  templateImageName: string | null;
  templateImageOs: string | null;
  citrixManaged: boolean | null;
  totalMachinesInCatalog: number | null;
  numOfUsers: number | null;
  maxNumOfUsers: number | null;
  taskCompletionPercentage: number | null;
  lastModifiedTime: string | null;
  isRemotePcCatalog: boolean;
  isAzureAdJoined: boolean;
  catalogType: string;
  /** The DaaS machine catalog's provisioning scheme; the built-in seed leaves it out, and the simulator derives one. */
  vdaProvisioningSchemeId?: string | null;
}

/** An `Application` that `TemplateImageDetails` lists for an image. */
export interface SimApplication {
  id: string;
  name: string;
  applicationPath: string;
}

/** A template image: the `TemplateImageOverview` fields, plus the applications its details list. */
export interface SimImage {
  id: string;
  name: string;
  state: string;
  subState: string | null;
  sessionSupport: string;
  osPlatform: string | null;
  osName: string | null;
  osVersion: string | null;
  vdaVersion: string | null;
  isServerOs: boolean;
  citrixPrepared: boolean;
  isDeprecated: boolean;
  subscriptionName: string;
  resourceGroup: string | null;
  region: string;
  createdDate: string | null;
  notes: string | null;
  applications?: SimApplication[];
}

/** Everything the simulator serves. JSON-serialisable, so `--data file.json` can hold one. */
export interface SimulatorSeed {
  customerId: string;
  clientId: string;
  clientSecret: string;
  site: SimSite;
  catalogs: SimCatalog[];
  images: SimImage[];
}

// Hex-only GUIDs that read as words in logs: ca7a10c = catalog, 1a9e = image, 517e = site, c11e = client.
export const SEED_IDS = {
  customerId: 'sim-customer',
  siteId: '517e0000-0000-4000-a000-000000000001',
  clientId: 'c11e9700-0000-4000-a000-000000000001',
  clientSecret: 'Xq7vN2pLk9Rt4wZs8Hc3Jm6Bf1Dg5Ya0',
  catalogs: {
    finance: 'ca7a10c0-0000-4000-a000-000000000001',
    engineering: 'ca7a10c0-0000-4000-a000-000000000002',
    callCenter: 'ca7a10c0-0000-4000-a000-000000000003',
    hr: 'ca7a10c0-0000-4000-a000-000000000004',
    sales: 'ca7a10c0-0000-4000-a000-000000000005',
    legal: 'ca7a10c0-0000-4000-a000-000000000006',
    contractors: 'ca7a10c0-0000-4000-a000-000000000007',
  },
  images: {
    win11Oct: '1a9e0000-0000-4000-a000-000000000010',
    win11Nov: '1a9e0000-0000-4000-a000-000000000011',
    win11Dec: '1a9e0000-0000-4000-a000-000000000012',
    importing: '1a9e0000-0000-4000-a000-000000000013',
    failed: '1a9e0000-0000-4000-a000-000000000014',
    deprecated: '1a9e0000-0000-4000-a000-000000000015',
    citrixWin11: '1a9e0000-0000-4000-a000-000000000016',
  },
} as const;

const SUBSCRIPTION_ID = '5ab5c000-0000-4000-a000-000000000001';
const SUBSCRIPTION_NAME = 'Contoso VDI Production';
const REGION = 'eastus';

function image(
  id: string,
  name: string,
  overrides: Partial<SimImage> & Pick<SimImage, 'createdDate' | 'vdaVersion'>,
): SimImage {
  return {
    id,
    name,
    state: 'Ready',
    subState: null,
    sessionSupport: 'MultiSession',
    osPlatform: 'Windows',
    osName: 'Windows 11 Enterprise multi-session',
    osVersion: '24H2',
    isServerOs: false,
    citrixPrepared: false,
    isDeprecated: false,
    subscriptionName: SUBSCRIPTION_NAME,
    resourceGroup: 'rg-vdi-images',
    region: REGION,
    notes: null,
    applications: [
      {
        id: `${id.slice(0, -3)}a01`,
        name: 'Microsoft Edge',
        applicationPath: 'C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe',
      },
      {
        id: `${id.slice(0, -3)}a02`,
        name: 'Microsoft Teams',
        applicationPath: 'C:\\Program Files\\WindowsApps\\MSTeams\\ms-teams.exe',
      },
    ],
    ...overrides,
  };
}

const images: SimImage[] = [
  image(SEED_IDS.images.win11Oct, 'Win11 24H2 October', {
    createdDate: '2025-10-14T09:12:00Z',
    vdaVersion: '2507.0.0.1',
  }),
  image(SEED_IDS.images.win11Nov, 'Win11 24H2 November', {
    createdDate: '2025-11-11T08:40:00Z',
    vdaVersion: '2507.0.0.1',
  }),
  image(SEED_IDS.images.win11Dec, 'Win11 24H2 December', {
    createdDate: '2025-12-09T10:05:00Z',
    vdaVersion: '2511.0.0.1',
  }),
  image(SEED_IDS.images.importing, 'Win11 24H2 January (importing)', {
    state: 'Importing',
    subState: 'ProcessingImportingImageVhdFile',
    createdDate: '2026-01-13T07:30:00Z',
    vdaVersion: null,
    applications: [],
  }),
  image(SEED_IDS.images.failed, 'Win11 24H2 Pilot (failed verification)', {
    state: 'Failed',
    subState: 'ErrorMasterImageVerificationFailed',
    createdDate: '2025-12-02T15:20:00Z',
    vdaVersion: null,
    applications: [],
  }),
  image(SEED_IDS.images.deprecated, 'Win10 22H2 Citrix-prepared (deprecated)', {
    osName: 'Windows 10 Enterprise multi-session',
    osVersion: '22H2',
    citrixPrepared: true,
    isDeprecated: true,
    resourceGroup: null,
    createdDate: '2024-06-11T12:00:00Z',
    vdaVersion: '2402.0.100.629',
  }),
  // Older than the newest customer image, so that "the newest image matching a pattern" stays a customer one.
  image(SEED_IDS.images.citrixWin11, 'Citrix Windows 11 Enterprise multi-session 24H2', {
    citrixPrepared: true,
    resourceGroup: null,
    createdDate: '2025-09-09T12:00:00Z',
    vdaVersion: '2507.0.0.1',
    applications: [],
  }),
];

function catalog(
  id: string,
  name: string,
  overrides: Partial<SimCatalog> & Pick<SimCatalog, 'totalMachinesInCatalog' | 'numOfUsers' | 'lastModifiedTime'>,
): SimCatalog {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return {
    id,
    name,
    state: 'Active',
    subState: null,
    statusMessage: null,
    warnings: [],
    transactionId: null,
    sessionSupport: 'MultiSession',
    allocationType: 'Random',
    offeringId: 'DaaS-QuickDeploy-MultiSession',
    offeringIdApp: 'DaaS-QuickDeploy-Apps',
    offeringIdDesktop: 'DaaS-QuickDeploy-Desktops',
    deliveryGroupId: `de11000${id.slice(7)}`,
    advanced: false,
    subscriptionId: SUBSCRIPTION_ID,
    subscriptionName: SUBSCRIPTION_NAME,
    resourceGroup: `rg-vdi-${slug}`,
    region: REGION,
    vNetName: 'vnet-vdi-eastus',
    subnet: 'snet-vdi-workers',
    domainJoined: true,
    domainName: 'corp.contoso.com',
    vmTypeInstanceType: 'Standard_D8s_v5',
    imageId: SEED_IDS.images.win11Oct,
    templateImageName: 'Win11 24H2 October',
    templateImageOs: 'Windows 11 Enterprise multi-session',
    citrixManaged: false,
    maxNumOfUsers: 16,
    taskCompletionPercentage: 100,
    isRemotePcCatalog: false,
    isAzureAdJoined: false,
    catalogType: 'CustomerDomainJoined',
    ...overrides,
  };
}

const ids = SEED_IDS.catalogs;
const catalogs: SimCatalog[] = [
  catalog(ids.finance, 'Finance', {
    totalMachinesInCatalog: 40,
    numOfUsers: 312,
    lastModifiedTime: '2025-10-20T14:02:11Z',
  }),
  catalog(ids.engineering, 'Engineering', {
    totalMachinesInCatalog: 120,
    numOfUsers: 845,
    vmTypeInstanceType: 'Standard_D16s_v5',
    lastModifiedTime: '2025-10-21T09:47:30Z',
  }),
  catalog(ids.callCenter, 'Call Center', {
    totalMachinesInCatalog: 200,
    numOfUsers: 2480,
    lastModifiedTime: '2025-10-21T22:15:00Z',
  }),
  catalog(ids.hr, 'Human Resources', {
    totalMachinesInCatalog: 12,
    numOfUsers: 64,
    lastModifiedTime: '2025-10-22T08:30:45Z',
  }),
  catalog(ids.sales, 'Sales', {
    totalMachinesInCatalog: 60,
    numOfUsers: 505,
    lastModifiedTime: '2025-10-22T11:12:09Z',
  }),
  catalog(ids.legal, 'Legal', {
    sessionSupport: 'SingleSession',
    allocationType: 'Permanent',
    totalMachinesInCatalog: 18,
    numOfUsers: 18,
    maxNumOfUsers: 1,
    lastModifiedTime: '2025-10-23T16:40:00Z',
  }),
  catalog(ids.contractors, 'Contractors', {
    state: 'InputRequired',
    warnings: [
      { type: 'UsersRequired', isDismissible: false, warningMessage: 'Assign users to this catalog.', isError: false },
    ],
    totalMachinesInCatalog: 8,
    numOfUsers: 0,
    lastModifiedTime: '2025-10-24T10:00:00Z',
  }),
];

export const DEFAULT_SEED: SimulatorSeed = {
  customerId: SEED_IDS.customerId,
  clientId: SEED_IDS.clientId,
  clientSecret: SEED_IDS.clientSecret,
  site: { id: SEED_IDS.siteId, displayName: 'Contoso Cloud Site' },
  catalogs,
  images,
};

/** Citrix's `TemplateImageState` values. */
export const TEMPLATE_IMAGE_STATES = [
  'Ready',
  'Pending',
  'Importing',
  'Enumerating',
  'NotStarted',
  'BuilderProvisioning',
  'BuilderActive',
  'BuilderStopped',
  'BuilderVerifying',
  'BuilderRestarting',
  'Failed',
  'AzureResourcesNotFound',
] as const;

const record = { id: z.string().min(1), name: z.string().min(1), state: z.string().min(1) };
const seedSchema = z.object({
  customerId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only'),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  site: z.object({ id: z.string().min(1), displayName: z.string().nullable() }),
  catalogs: z.array(z.looseObject(record)),
  images: z.array(z.looseObject({ ...record, state: z.enum(TEMPLATE_IMAGE_STATES) })),
});

/** Checks the outline of a data set loaded from JSON; the fields of catalogs and images are served as given. */
export function parseSeed(value: unknown): SimulatorSeed {
  const result = seedSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new Error(`invalid simulator data set: ${problems.join('; ')}`);
  }
  for (const kind of ['catalogs', 'images'] as const) {
    const seen = new Set<string>();
    for (const { id } of result.data[kind]) {
      if (seen.has(id.toLowerCase())) throw new Error(`invalid simulator data set: ${kind} id ${id} appears twice`);
      seen.add(id.toLowerCase());
    }
  }
  return value as SimulatorSeed;
}
