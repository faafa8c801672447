import type { CommandModule } from 'yargs';
import { datasetInfo, readManifest } from '../../api';
import { formatBytes } from '../../progress';

/** `vatom-fast info DIR`: what a dataset holds and how it was made. */
export default function infoCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'info <dir>',
    describe: 'Show what a dataset holds and how it was made (for a manifest-only dataset, what it would take stored)',
    builder: (y) => y.positional('dir', { type: 'string', describe: 'Dataset directory' })
      .option('json', { type: 'boolean', describe: 'Print the summary as JSON' })
      .example('$0 info data/va', 'counts, size, stream, seed and generator parameters'),
    handler: (argv) => {
      const m = readManifest(String(argv.dir));
      const summary = datasetInfo(String(argv.dir));
      const manifestOnly = summary.rendersOnAccess === true;
      const layoutShards = Math.ceil(m.imageCount / m.shardSize);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        const c = m.config;
        const rcdb = summary.family === 'rcdb';
        const lines = [
          `dataset     ${summary.dir} (${manifestOnly ? 'manifest only' : m.complete ? 'complete' : `incomplete: ${summary.shardsWritten} of ${m.shards.length} shards`})`,
          `images      ${m.imageCount} = ${m.classes} classes (from ${m.startClass}) x ${m.instances}, ${m.imageSize}x${m.imageSize} uint8, class-major` +
            (m.requestedClasses !== m.classes ? `; ${m.requestedClasses} classes were asked for, the reference split makes ${m.classes}` : ''),
          manifestOnly
            ? `storage     none: images render on access (vatom-fast build --format npy with the same options adds ${layoutShards} shard${layoutShards === 1 ? '' : 's'} of up to ${m.shardSize} images, ${formatBytes(summary.storedBytes!)})`
            : `shards      ${m.shards.length} of up to ${m.shardSize} images, ${formatBytes(summary.bytes)} written`,
          `stream      ${m.rng} (${m.stream}), seed ${m.seed}${m.referenceThreads !== undefined ? `, ${m.referenceThreads} reference processes` : ''}`,
          `generator   ${summary.family}: vertices ${c.verticesMin}:${c.verticesMax}, orbits ${c.orbitsMin}:${c.orbitsMax}, noise-min ${c.noiseMin}, ` +
            `line-width ${c.lineWidth}, radius-min ${c.radiusMin}` +
            `${c.radiusSpan !== undefined ? ` (span ${c.radiusSpan})` : ''}, oval-rate ${c.ovalRate}, start-pos ${c.startPos}` +
            (rcdb ? '' : `, freq1 ${c.freq1Min}:${c.freq1Max}, freq2 ${c.freq2Min}:${c.freq2Max}`),
          `made by     ${m.generator}`,
        ];
        const shown = m.classParams.slice(0, 5).map((p) => (rcdb
          ? `  class ${p.class}: vertices ${p.vertices}, lines ${p.orbits}, radius ${p.radius}, noise ${p.noise.toFixed(4)}, ` +
            `offset ${p.lineWidth.toFixed(4)}, oval ${p.ovalX.toFixed(4)} ${p.ovalY.toFixed(4)}, centre ${p.centreY} ${p.centreX}`
          : `  class ${p.class}: q ${p.vertices}, K ${p.orbits}, r0 ${p.radius}, n1 ${p.freq1}, n2 ${p.freq2}, ` +
            `eta ${p.noise.toFixed(4)}, lw ${p.lineWidth.toFixed(4)}, ox ${p.ovalX.toFixed(4)}, oy ${p.ovalY.toFixed(4)}`));
        if (m.classParams.length > 5) shown.push(`  ... ${m.classParams.length - 5} more in manifest.json`);
        process.stdout.write(`${[...lines, 'classes', ...shown].join('\n')}\n`);
      }
      setExit(0);
    },
  };
}
