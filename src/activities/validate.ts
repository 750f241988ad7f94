import { ApplicationFailure } from '@temporalio/common';
import { type CitrixClient, CitrixNotFoundError, type TemplateImage } from '../citrix';
import { FailureType, deadlineProblem } from '../shared';
import {
  type CatalogSnapshot,
  SETTLED_STATES,
  adviceForState,
  compatibilityProblems,
  describeCatalog,
  describeState,
  isPersistent,
  sameId,
  snapshotOf,
} from './catalog-rules';
import { citrixCall, errorDetails } from './citrix-failures';
import { readCatalog } from './read-catalog';

export interface ValidateRequest {
  catalogId: string;
  imageId: string;
  /** What the caller said; it must match the image (absent: the image decides). */
  citrixPrepared?: boolean;
  vdaUpdateDelayMinutes?: number;
  deadlineMs?: number;
}

export interface ValidationReport {
  catalogName: string;
  catalogState: string;
  imageName: string;
  previousImageId?: string;
  previousImageName?: string;
  lastModifiedTime?: string;
  /** The catalog already runs the requested image: nothing to post. */
  alreadyCurrent: boolean;
  /** Whether the image is Citrix-prepared: what `$updateImage` must say (Citrix refuses a mismatch). */
  citrixPrepared?: boolean;
  /** A static catalog that keeps its disks: existing machines keep the old image. */
  persistent?: boolean;
  /** The catalog as validation read it: warnings already there are no evidence against the update. */
  snapshot?: CatalogSnapshot;
}

/** How long one read of an image serves the validations that need it. */
const IMAGE_READ_REUSE_MS = 15_000;
/** At most this many image reads are kept, so that a worker validating many images keeps its memory bounded. */
const IMAGE_READS_KEPT = 100;

export function createValidationActivity({ citrix }: { citrix: CitrixClient }) {
  /**
   * Every catalog of a rollout validates the same image, and an image's details list every catalog that uses it (a
   * megabyte for a few thousand catalogs): one read serves the validations of `IMAGE_READ_REUSE_MS`. Citrix checks
   * the image again when the update is posted.
   */
  const imageReads = new Map<string, { at: number; image: Promise<TemplateImage> }>();
  function readImage(imageId: string): Promise<TemplateImage> {
    const key = imageId.toLowerCase();
    const cached = imageReads.get(key);
    if (cached && Date.now() - cached.at < IMAGE_READ_REUSE_MS) return cached.image;
    const image = readImageNow(imageId);
    imageReads.set(key, { at: Date.now(), image });
    image.catch(() => imageReads.delete(key));
    if (imageReads.size > IMAGE_READS_KEPT) imageReads.delete(imageReads.keys().next().value!);
    return image;
  }

  function readImageNow(imageId: string): Promise<TemplateImage> {
    return citrixCall(
      () => citrix.getImage(imageId),
      (error) =>
        error instanceof CitrixNotFoundError
          ? ApplicationFailure.nonRetryable(
              `image ${imageId} was not found: check the image id (the starter's "images" command lists them)`,
              FailureType.ImageNotFound,
              errorDetails(error),
            )
          : undefined,
    );
  }

  return {
    /** Reads the catalog and the image and checks that the update may start. Posts nothing. */
    async validateCatalogUpdate(request: ValidateRequest): Promise<ValidationReport> {
      const { catalogId, imageId } = request;
      const catalog = await readCatalog(citrix, catalogId);
      const report: ValidationReport = {
        catalogName: catalog.name,
        catalogState: catalog.state,
        imageName: catalog.templateImageName ?? imageId,
        previousImageId: catalog.imageId,
        previousImageName: catalog.templateImageName,
        lastModifiedTime: catalog.lastModifiedTime,
        alreadyCurrent: false,
        persistent: isPersistent(catalog),
        snapshot: snapshotOf(catalog),
      };
      if (SETTLED_STATES.has(catalog.state) && sameId(catalog.imageId, imageId)) {
        return { ...report, alreadyCurrent: true };
      }
      if (!SETTLED_STATES.has(catalog.state)) {
        throw ApplicationFailure.nonRetryable(
          `catalog ${describeCatalog(catalog)} is in state ${describeState(catalog)}; an image update needs it ` +
            `Active or InputRequired: ${adviceForState(catalog.state)}`,
          FailureType.CatalogNotReady,
          [{ catalogId, state: catalog.state, subState: catalog.subState, transactionId: catalog.transactionId }],
        );
      }
      const image = await readImage(imageId);
      if (image.state !== 'Ready') {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is in state ${image.state}${image.subState ? ` (${image.subState})` : ''}` +
            ` and cannot be used yet: ${
              ['Failed', 'AzureResourcesNotFound'].includes(image.state)
                ? 'it will never become usable, pick another image'
                : 'wait until Citrix shows it Ready, then start again'
            }`,
          FailureType.ImageNotUsable,
          [{ imageId, state: image.state, subState: image.subState }],
        );
      }
      if (image.isDeprecated) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is deprecated: pick a current image`,
          FailureType.ImageNotUsable,
          [{ imageId, isDeprecated: true }],
        );
      }
      const citrixPrepared = image.citrixPrepared ?? false;
      if (request.citrixPrepared !== undefined && request.citrixPrepared !== citrixPrepared) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) is ${citrixPrepared ? 'a Citrix-prepared image' : 'a customer image'}, ` +
            `but the update says citrixPrepared ${request.citrixPrepared}: leave --citrix-prepared out, the image ` +
            `decides it`,
          FailureType.InvalidInput,
          [{ imageId, citrixPrepared, requested: request.citrixPrepared }],
        );
      }
      const misfits = compatibilityProblems(catalog, image);
      if (misfits.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `image ${image.name} (${image.id}) does not fit catalog ${describeCatalog(catalog)}: ${misfits.join('; ')}: ` +
            `pick an image made for this catalog`,
          FailureType.ImageNotUsable,
          [{ imageId, catalogId, misfits }],
        );
      }
      const delayProblem = deadlineProblem(request);
      if (delayProblem) throw ApplicationFailure.nonRetryable(delayProblem, FailureType.InvalidInput);
      return { ...report, imageName: image.name, citrixPrepared };
    },
  };
}
