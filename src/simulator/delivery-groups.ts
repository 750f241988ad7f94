import type { SimCatalog } from './seed';

/** A DaaS delivery group: the catalogs whose `deliveryGroupId` it is, in the data set's order. */
export interface SimDeliveryGroup {
  id: string;
  uid: number;
  /** The first catalog's name. */
  name: string;
  catalogIds: string[];
}

/**
 * The delivery groups of a data set by lower-case id and name, and each catalog's position from 1 (its DaaS machine
 * catalog's `Uid`). Several catalogs may share a group, as data sets made by copying one catalog do.
 */
export class DeliveryGroups {
  private readonly groups = new Map<string, SimDeliveryGroup>();
  private readonly uids = new Map<string, number>();

  constructor(catalogs: Iterable<SimCatalog>) {
    for (const catalog of catalogs) {
      this.uids.set(catalog.id.toLowerCase(), this.uids.size + 1);
      if (!catalog.deliveryGroupId) continue;
      const key = catalog.deliveryGroupId.toLowerCase();
      const group = this.groups.get(key);
      if (group) group.catalogIds.push(catalog.id);
      else {
        const uid = this.groups.size + 1;
        this.groups.set(key, { id: catalog.deliveryGroupId, uid, name: catalog.name, catalogIds: [catalog.id] });
      }
    }
    // Names second, so that no name hides an id.
    for (const group of [...this.groups.values()]) {
      if (!this.groups.has(group.name.toLowerCase())) this.groups.set(group.name.toLowerCase(), group);
    }
  }

  get(nameOrId: string): SimDeliveryGroup | undefined {
    return this.groups.get(nameOrId.toLowerCase());
  }

  uidOf(catalogId: string): number | undefined {
    return this.uids.get(catalogId.toLowerCase());
  }
}
