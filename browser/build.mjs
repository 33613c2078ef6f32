// Builds the browser client (browser/megacomet.ts) into dist/browser/:
//   megacomet.mjs      ES module          import { connect } from 'megacomet/browser'
//   megacomet.js       classic <script>   window.MegaComet.connect(...)
//   megacomet.d.ts     its types (tsc, tsconfig.browser.json)
// Both bundles are minified; the sizes (min and min+gzip) are printed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const common = { entryPoints: ['browser/megacomet.ts'], bundle: true, minify: true, target: 'es2018', legalComments: 'none' };
await build({ ...common, format: 'esm', outfile: 'dist/browser/megacomet.mjs' });
await build({ ...common, format: 'iife', globalName: 'MegaComet', outfile: 'dist/browser/megacomet.js' });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.browser.json'], { stdio: 'inherit' });
for (const file of ['dist/browser/megacomet.mjs', 'dist/browser/megacomet.js']) {
  const bytes = readFileSync(file);
  console.log(`${file}: ${bytes.length} B min, ${gzipSync(bytes, { level: 9 }).length} B min+gzip`);
}
