/** catalogs and images: what the Citrix site holds (needs Citrix credentials). */
import type { Command } from 'commander';
import { withCitrix } from './context';
import { Output, table } from './output';

export function addCitrixCommands(program: Command): void {
  program
    .command('catalogs')
    .description('list the catalogs of the Citrix site with their current image (needs Citrix credentials)')
    .option('--json', 'print JSON', false)
    .action(async (options) => {
      const out = new Output(options.json);
      await withCitrix(async (citrix) => {
        const catalogs = await citrix.listCatalogs();
        if (out.json) return console.log(JSON.stringify(catalogs));
        const rows = catalogs.map((c) => [
          c.id,
          String(c.state ?? ''),
          c.name,
          c.templateImageName ? `${c.templateImageName} (${c.imageId ?? '?'})` : (c.imageId ?? '-'),
        ]);
        console.log(table([['ID', 'STATE', 'NAME', 'CURRENT IMAGE'], ...rows]));
      });
    });

  program
    .command('images')
    .description('list the template images of the Citrix site (needs Citrix credentials)')
    .option('--json', 'print JSON', false)
    .action(async (options) => {
      const out = new Output(options.json);
      await withCitrix(async (citrix) => {
        const images = await citrix.listImages();
        if (out.json) return console.log(JSON.stringify(images));
        const rows = images.map((i) => [i.id, String(i.state), i.name + (i.isDeprecated ? ' (deprecated)' : '')]);
        console.log(table([['ID', 'STATE', 'NAME'], ...rows]));
      });
    });
}
