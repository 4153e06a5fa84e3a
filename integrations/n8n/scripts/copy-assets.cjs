// tsc copies no icons; n8n loads them from next to the compiled node.
const { cpSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
for (const dir of ['nodes/WorkflowIdentityToken', 'credentials']) {
  for (const file of readdirSync(join(root, dir))) {
    if (file.endsWith('.svg')) cpSync(join(root, dir, file), join(root, 'dist', dir, file));
  }
}
