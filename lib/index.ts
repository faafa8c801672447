/** The library API of vatom-fast: the same operations as the command line. */
export { build, datasetIdentity, planShards, BuildSummary } from './build';
export { parseBuildOptions, BuildOptions } from './options';
export { verifyDataset, VerifyReport } from './verify';
export { readManifest, Manifest, ShardEntry } from './manifest';
export { PRESETS, PAPER_CONFIG, GeneratorConfig } from './config';
export { createReporter, Reporter } from './progress';
export { VatomError } from './errors';
export { loadNative, ClassParams } from './native';
export { exportDataset, buildExport, parseBuildFormat, ExportSummary, ExportSettings } from './export';
export { makeContactSheet, parsePreviewOptions } from './export/preview';
export { mergeDataset, MergeReport } from './merge';
