/**
 * A dry run's blast radius: for each catalog of the plan, how many machines and users the update touches, whether the
 * image fits the catalog, and whether the image it runs now still exists and is Ready — a rollback needs it.
 */
import { Context } from '@temporalio/activity';
import { type Catalog, type CitrixClient, CitrixNotFoundError, type TemplateImage } from '../citrix';
import { truncate } from '../citrix/sanitize';
import { mapLimit } from '../shared/concurrency';
import { compatibilityProblems } from './catalog-rules';

const CONCURRENT_READS = 8;
const PROBLEM_CHARS = 300;

export interface ImpactRequest {
  imageId: string;
  catalogIds: string[];
}

/** Column by column, in request order (-1: not known). */
export interface ImpactReport {
  machines: number[];
  users: number[];
  /** 1: the image the catalog runs now exists and is Ready (a rollback can return to it); 0: it does not; -1: unknown. */
  previousImageReady: number[];
  /** Why the image does not fit a catalog, or why the catalog could not be read ('' when nothing is wrong). */
  problems: string[];
}

export function createImpactActivities({ citrix }: { citrix: CitrixClient }) {
  return {
    async assessRolloutImpact(request: ImpactRequest): Promise<ImpactReport> {
      // null: Citrix says the image is gone; undefined: it could not be read.
      const images = new Map<string, Promise<TemplateImage | null | undefined>>();
      const image = (id: string) => {
        if (!images.has(id)) {
          images.set(
            id,
            citrix.getImage(id).catch((error) => (error instanceof CitrixNotFoundError ? null : undefined)),
          );
        }
        return images.get(id)!;
      };
      const target = await citrix.getImage(request.imageId);
      const size = request.catalogIds.length;
      const report: ImpactReport = {
        machines: new Array<number>(size).fill(-1),
        users: new Array<number>(size).fill(-1),
        previousImageReady: new Array<number>(size).fill(-1),
        problems: new Array<string>(size).fill(''),
      };
      await mapLimit(request.catalogIds, CONCURRENT_READS, async (catalogId, i) => {
        let catalog: Catalog;
        try {
          catalog = await citrix.getCatalog(catalogId);
        } catch (error) {
          report.problems[i] = truncate(`the catalog could not be read: ${(error as Error).message}`, PROBLEM_CHARS);
          return;
        }
        report.machines[i] = catalog.totalMachinesInCatalog ?? -1;
        report.users[i] = catalog.numOfUsers ?? -1;
        report.problems[i] = truncate(compatibilityProblems(catalog, target).join('; '), PROBLEM_CHARS);
        if (catalog.imageId) {
          const previous = await image(catalog.imageId);
          if (previous !== undefined) {
            report.previousImageReady[i] = Number(previous?.state === 'Ready' && !previous.isDeprecated);
          }
        }
        Context.current().heartbeat(i);
      });
      return report;
    },
  };
}
