/**
 * The machines behind a Quick Deploy catalog, as the DaaS REST API (`cvad/manage`) reports them: what a health gate
 * judges a rollout by. Enum fields are plain strings, because Citrix adds values; free text is bounded and cleaned like
 * every other answer.
 */

/** `MachineResponseModel`, the fields the project reads. */
export interface DaasMachine {
  id: string;
  /** `DOMAIN\HOST` */
  name?: string;
  /** `MachineCatalog.Id`: the machine catalog the machine belongs to. */
  machineCatalogId?: string;
  /** `Unknown`, `Unregistered`, `Initializing`, `Registered`, `AgentError`, … */
  registrationState?: string;
  /** `On`, `Off`, `TurningOn`, `Unavailable`, … */
  powerState?: string;
  /** `None`, `Unknown`, `FailedToStart`, `StuckOnBoot`, `Unregistered`, `MaxCapacity`, `VirtualMachineNotFound`, … */
  faultState?: string;
  inMaintenanceMode?: boolean;
  sessionCount?: number;
  lastDeregistrationReason?: string;
  /** RFC 3339 (`FormattedLastDeregistrationTime`). */
  lastDeregistrationTime?: string;
  /** `Hosting.ImageOutOfDate`: true while the machine still runs an image other than the catalog's. */
  imageOutOfDate?: boolean;
}

/** Every machine of a catalog's delivery group, read page by page. */
export interface CatalogMachines {
  deliveryGroupId: string;
  machines: DaasMachine[];
  /**
   * The machine catalog whose provisioning scheme is the catalog's `vdaProvisioningSchemeId`, when one was given: only
   * its machines are listed, so that a delivery group shared with other catalogs does not mix theirs in.
   */
  machineCatalogId?: string;
  /** More machines than the client reads for one catalog (`MAX_MACHINES_PER_CATALOG`): the list is cut. */
  truncated: boolean;
}

/** A catalog's machines are read up to this many: a health verdict needs figures, not every machine of a huge pool. */
export const MAX_MACHINES_PER_CATALOG = 10_000;
