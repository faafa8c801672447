import type { CommandModule } from 'yargs';
import { drawingWarnings } from '../../config';
import { configureEncoders } from '../../export/encode';
import { makeContactSheet, parsePreviewOptions } from '../../export/preview';
import { generatorOptions } from '../generator-options';

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
      const options = parsePreviewOptions(argv);
      configureEncoders(options.threads);
      if (options.build && !options.quiet) {
        for (const warning of drawingWarnings(options.build.config)) process.stderr.write(`warning: ${warning}\n`);
      }
      const sheet = await makeContactSheet(options);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(sheet)}\n`);
      } else if (!options.quiet) {
        process.stderr.write(`${sheet.out}: ${sheet.rows} classes x ${sheet.columns} instances, ${sheet.width} x ${sheet.height} pixels, ` +
          `cells ${sheet.cellSize} px (${sheet.resize === 'none' ? 'full size' : `${sheet.resize} resize from ${sheet.imageSize}`}), labels: ${sheet.font} font\n`);
      }
      setExit(0);
    },
  };
}
