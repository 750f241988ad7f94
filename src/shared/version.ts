/** This release, as `package.json` names it (a test holds the two together): sent to Citrix as `User-Agent`. */
export const PRODUCT_VERSION = '0.4.0';
