// Copies the compiler's share of the repository's build (`npm run build` at the root) into
// this package: the compiler, the grammar and the templates, and the common module they import.
import { cpSync, existsSync, rmSync } from 'node:fs';

const build = new URL('../../dist/', import.meta.url);
if (!existsSync(new URL('src/compiler/index.js', build))) {
  console.error('the repository is not built: run `npm run build` at its root first');
  process.exit(1);
}
const here = new URL('./dist/', import.meta.url);
rmSync(here, { recursive: true, force: true });
for (const part of ['src/compiler', 'src/common', 'grammar', 'templates']) {
  cpSync(new URL(part, build), new URL(part, here), {
    recursive: true,
    filter: (path) => !path.includes('generate-cst'),
  });
}
