/** The library API of vatom-fast: the command line's operations with typed camelCase options (README, "Library"). */
export {
  build, validateBuildOptions, preview, exportDataset, mergeDataset, verifyDataset, datasetInfo, readManifest,
  BuildOptions, GeneratorOptions, ImageFormatOptions, PreviewOptions, ExportOptions, MergeOptions, VerifyOptions, RunOptions, IntegerRange,
} from './api';
export { buildManifest, BuildSummary, ManifestBuildSummary } from './build';
export { datasetIdentity, optionsOfIdentity } from './dataset/identity';
export { planShards, isManifestOnly, Manifest, ShardEntry, Storage } from './dataset/manifest';
export { storedBytes } from './dataset/layout';
export { checkManifestOnly } from './dataset/drawn-check';
export { ValidatedBuildOptions } from './options/build';
export { VerifyReport } from './verify';
export { DatasetInfo } from './info';
export { PRESETS, PAPER_CONFIG } from './generators/presets';
export { GeneratorConfig } from './generators/visualatom';
export { createReporter, Reporter } from './progress';
export { VatomError, VatomErrorCode } from './errors';
export { loadNative, ClassParams } from './native';
export { openDatasetSource } from './export/source';
export { ExportSummary } from './export';
export { ExportSettings } from './options/export';
export { SheetSummary } from './preview/contact-sheet';
export { MergeReport } from './merge';
