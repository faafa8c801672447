/**
 * The format files shared with the Python package (python/vatom_fast/format, shipped in both
 * packages): the manifest schema and the presets. Rules and bounds are read from them, not restated.
 */
import * as fs from 'fs';
import * as path from 'path';

const FORMAT_DIR = path.join(__dirname, '..', 'python', 'vatom_fast', 'format');

/** The JSON Schema of manifest.json, a worker's part manifest and an export marker. */
export const SCHEMA_FILE = path.join(FORMAT_DIR, 'manifest.schema.json');
/** The named datasets and their generator configurations. */
export const PRESETS_FILE = path.join(FORMAT_DIR, 'presets.json');

type SchemaNode = Record<string, unknown>;

let schema: SchemaNode | undefined;

/** The schema, parsed once. */
export function formatSchema(): SchemaNode {
  schema ??= JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as SchemaNode;
  return schema;
}

/** An integer or number bound of the schema, for options that must accept exactly what a manifest may hold. */
export interface SchemaBound {
  integer: boolean;
  min: number;
  max: number;
}

/** The bounds of definitions/DEFINITION/properties/FIELD (or of definitions/DEFINITION itself). */
export function schemaBound(definition: string, field?: string): SchemaBound {
  const definitions = formatSchema().definitions as Record<string, SchemaNode>;
  let node = definitions[definition];
  if (field !== undefined) node = (node.properties as Record<string, SchemaNode>)[field];
  // A field may name a shared definition ({"$ref": "#/definitions/NAME"}).
  const ref = typeof node?.$ref === 'string' ? /^#\/definitions\/([A-Za-z0-9]+)$/.exec(node.$ref) : null;
  if (ref) node = definitions[ref[1]];
  if (node === undefined || typeof node.minimum !== 'number' || typeof node.maximum !== 'number') {
    throw new Error(`${SCHEMA_FILE}: no numeric bounds at ${definition}${field ? `.${field}` : ''}`);
  }
  return { integer: node.type === 'integer', min: node.minimum, max: node.maximum };
}

/** The maxItems of definitions/DEFINITION/properties/FIELD. */
export function schemaMaxItems(definition: string, field: string): number {
  const definitions = formatSchema().definitions as Record<string, SchemaNode>;
  const node = (definitions[definition].properties as Record<string, SchemaNode>)[field];
  if (typeof node?.maxItems !== 'number') throw new Error(`${SCHEMA_FILE}: no maxItems at ${definition}.${field}`);
  return node.maxItems;
}

/** presets.json: generator configurations by name, and the named datasets that use them. */
export interface PresetsFile {
  configs: Record<string, Record<string, number>>;
  default: string;
  presets: Record<string, { family?: string; classes: number; instances: number; config: string; referenceThreads?: number }>;
}

/** The presets file, parsed. */
export function presetsFile(): PresetsFile {
  return JSON.parse(fs.readFileSync(PRESETS_FILE, 'utf8')) as PresetsFile;
}
