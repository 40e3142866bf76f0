// node check-azure-pipelines.mjs FILE...: checks Azure Pipelines YAML files against
// azure-pipelines.schema.json (beside this file) with ajv; prints every error, exits 1 on any.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import Ajv from 'ajv';

const schema = JSON.parse(readFileSync(fileURLToPath(new URL('./azure-pipelines.schema.json', import.meta.url)), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
let failed = false;
for (const file of process.argv.slice(2)) {
  const pipeline = load(readFileSync(file, 'utf8'));
  if (validate(pipeline)) {
    console.log(`${file}: valid`);
  } else {
    failed = true;
    for (const e of validate.errors) {
      console.log(`${file}: ${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
    }
  }
}
process.exit(failed ? 1 : 0);
