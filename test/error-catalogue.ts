// The error catalogue (src/protocol/errors.ts) is the one list of error codes.
// docs/PROTOCOL.md's two error tables and the engine's prebuilt responses
// (native/http_errors.h) repeat it for their readers; this test fails when one
// of them changes without the others.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { APP_ERRORS, HTTP_ERRORS } from '../src/protocol/errors.js';

const root = new URL('../', import.meta.url);
const protocolDoc = readFileSync(new URL('docs/PROTOCOL.md', root), 'utf8');
const nativeErrors = readFileSync(new URL('native/http_errors.h', root), 'utf8');

/** The rows of the markdown table whose header line is `header`, as arrays of cell texts. */
function tableAfter(doc: string, header: string): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((line) => line.trim() === header);
  if (start < 0) throw new Error(`docs/PROTOCOL.md has no table headed ${header}`);
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

const unquote = (cell: string): string => cell.replace(/^`|`$/g, '');

t.test('docs/PROTOCOL.md lists every HTTP error code with its status, and no other', async (t) => {
  const rows = tableAfter(protocolDoc, '| status | `error` | when |');
  const documented = Object.fromEntries(rows.map((r) => [unquote(r[1]!), Number(r[0])]));
  const catalogue = Object.fromEntries(Object.entries(HTTP_ERRORS).map(([code, e]) => [code, e.status]));
  t.same(documented, catalogue);
});

t.test('docs/PROTOCOL.md lists every app error code, and no other', async (t) => {
  const rows = tableAfter(protocolDoc, '| `error` | when |');
  t.same(rows.map((r) => unquote(r[0]!)).sort(), Object.keys(APP_ERRORS).sort());
});

t.test('the engine prebuilds exactly the codes the catalogue marks as its own, with the same status', async (t) => {
  const prebuilt = [...nativeErrors.matchAll(/\{\s*(\d{3}),\s*"([a-z_]+)",/g)].map((m) => [m[2]!, Number(m[1])] as const);
  t.ok(prebuilt.length > 0, 'native/http_errors.h has rows of {status, "code", ...}');
  const engineCodes = Object.entries(HTTP_ERRORS)
    .filter(([, e]) => e.engine)
    .map(([code, e]) => [code, e.status] as const);
  t.same(Object.fromEntries(prebuilt), Object.fromEntries(engineCodes));
});

t.test('every code has a meaning a person can read', async (t) => {
  for (const [code, e] of [...Object.entries(HTTP_ERRORS), ...Object.entries(APP_ERRORS)]) {
    t.ok(/^[a-z_]+$/.test(code), `${code} is lower_snake_case`);
    t.ok(e.when.length > 10 && !e.when.includes('\n'), `${code}: ${e.when}`);
  }
});
