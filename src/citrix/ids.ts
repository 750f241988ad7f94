// Pure functions with no imports: workflow code uses them too.

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;
// Unconfirmed: Citrix does not document the format of template image ids. The ones seen are GUIDs, so accept any
// short identifier that is safe as one path segment rather than insisting on a GUID.
const IMAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Catalog and site ids are GUIDs. */
export function isGuid(value: string): boolean {
  return GUID.test(value);
}

export function isCustomerId(value: string): boolean {
  return CUSTOMER_ID.test(value);
}

export function isImageId(value: string): boolean {
  return IMAGE_ID.test(value);
}

/** Citrix compares ids without regard to case (GUIDs come back in either); so does everything here. */
export function sameId(a: string | null | undefined, b: string | null | undefined): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}
