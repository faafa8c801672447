import type { CommandModule } from 'yargs';
import { runPreview } from '../../api';
import { createReporter } from '../../progress';
import { generatorOptions } from '../option-groups';

/** `vatom-fast preview --out sheet.png`: a labelled contact sheet of classes x instances. */
export default function previewCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'preview',
    describe: 'Draw a contact sheet: --classes rows (default 8) x --instances columns (default 8), each cell labelled with its class and parameters',
    builder: (y) => generatorOptions(y, { classes: '8, the sheet\'s rows', instances: '8, the sheet\'s columns' })
      .option('out', { type: 'string', describe: 'PNG file to write', demandOption: 'the PNG file to write the contact sheet to' })
      .option('from', { type: 'string', describe: 'Take the images from this dataset instead of rendering them (with --classes, --instances, --start-class)' })
      .option('cell-size', { type: 'number', requiresArg: true, describe: 'Cell side in pixels, 16..4096 (default: 128, or the image size if smaller); area average when shrinking, nearest when enlarging' })
      .option('quiet', { type: 'boolean', describe: 'Print nothing but errors' })
      .option('json', { type: 'boolean', describe: 'Print the sheet layout (size, each cell\'s class, instance and position) as JSON' })
      .example('$0 preview --out sheet.png', '8 classes x 8 images of the paper preset')
      .example('$0 preview --out sheet.png --from data/va --classes 4 --instances 6', 'images of a built dataset'),
    handler: async (argv) => {
      const quiet = argv.quiet === true;
      const sheet = await runPreview(argv, { reporter: createReporter({ quiet }) });
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(sheet)}\n`);
      } else if (!quiet) {
        process.stderr.write(`${sheet.out}: ${sheet.rows} classes x ${sheet.columns} instances, ${sheet.width} x ${sheet.height} pixels, ` +
          `cells ${sheet.cellSize} px (${sheet.resize === 'none' ? 'full size' : `${sheet.resize} resize from ${sheet.imageSize}`}), labels: ${sheet.font} font\n`);
      }
      setExit(0);
    },
  };
}
