/** The library API of vatom-fast: the command line's operations with typed camelCase options (README, "Library"). */
export {
  build, validateBuildOptions, preview, exportDataset, mergeDataset,
  BuildOptions, GeneratorOptions, ImageFormatOptions, PreviewOptions, ExportOptions, MergeOptions, RunOptions, IntegerRange,
} from './api';
export { buildManifest, datasetIdentity, planShards, storedBytes, BuildSummary, ManifestBuildSummary } from './build';
export { optionsOfIdentity, BuildOptions as ValidatedBuildOptions } from './options';
export { checkManifestOnly, verifyDataset, VerifyReport } from './verify';
export { isManifestOnly, readManifest, Manifest, ShardEntry, Storage } from './manifest';
export { datasetInfo, DatasetInfo } from './info';
export { PRESETS, PAPER_CONFIG, GeneratorConfig } from './config';
export { createReporter, Reporter } from './progress';
export { VatomError, VatomErrorCode } from './errors';
export { loadNative, ClassParams } from './native';
export { openDatasetSource, ExportSummary, ExportSettings } from './export';
export { SheetSummary } from './export/preview';
export { MergeReport } from './merge';
