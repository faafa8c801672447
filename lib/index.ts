/** The library API of vatom-fast: the same operations as the command line. */
export { build, buildManifest, datasetIdentity, planShards, storedBytes, BuildSummary, ManifestBuildSummary } from './build';
export { optionsOfIdentity, parseBuildOptions, BuildOptions } from './options';
export { checkManifestOnly, verifyDataset, VerifyReport } from './verify';
export { isManifestOnly, readManifest, Manifest, ShardEntry, Storage } from './manifest';
export { PRESETS, PAPER_CONFIG, GeneratorConfig } from './config';
export { createReporter, Reporter } from './progress';
export { VatomError } from './errors';
export { loadNative, ClassParams } from './native';
export { exportDataset, buildExport, openDatasetSource, parseBuildFormat, ExportSummary, ExportSettings } from './export';
export { makeContactSheet, parsePreviewOptions } from './export/preview';
export { mergeDataset, MergeReport } from './merge';
