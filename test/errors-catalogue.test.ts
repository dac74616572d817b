import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { BlobgateError, ERROR_CATALOGUE, RESERVED_CODES, type ErrorCode } from '../src/errors.js';

const root = new URL('..', import.meta.url).pathname;
const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

t.test('every code is documented in the README with its HTTP status', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  for (const code of codes) {
    const row = new RegExp(`^\\| \`${code}\` \\| (\\d{3}) \\|`, 'm').exec(readme);
    t.ok(row, `README documents ${code}`);
    t.equal(Number(row?.[1]), ERROR_CATALOGUE[code].status, `README status of ${code}`);
  }
  const documented = [...readme.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]);
  t.same(documented.filter((c) => !(c! in ERROR_CATALOGUE)), [], 'the README lists no code the catalogue lacks');
});

t.test('every code that can occur is asserted by at least one test', async (t) => {
  const files = (await readdir(join(root, 'test'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('errors-catalogue.test.ts'));
  const sources = await Promise.all(files.map((f) => readFile(join(root, 'test', f), 'utf8')));
  const all = sources.join('\n');
  for (const code of codes) {
    const asserted = new RegExp(`code(: |, )'${code}'`).test(all);
    if (RESERVED_CODES.includes(code)) {
      t.notOk(asserted, `${code} is reserved: once a test asserts it, remove it from RESERVED_CODES`);
    } else {
      t.ok(asserted, `a test asserts code '${code}'`);
    }
  }
});

t.test('errors serialize to the documented shape, without stack or cause', async (t) => {
  const err = new BlobgateError('cap_exceeded', 'too big', { 'max-bytes': 1 }, { cause: new Error('secret backend text') });
  t.same(err.toJSON(), { error: { code: 'cap_exceeded', message: 'too big', details: { 'max-bytes': 1 } } });
  t.equal(err.status, 413);
  t.notMatch(JSON.stringify(err), /secret backend text|stack/);
});
