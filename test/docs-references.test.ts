import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';

// Comments may cite only what is in the repository. This fails when a comment
// under src/, support/, test/ or scripts/ cites a document that lives outside it (the
// old design, style and testing notes, the platform's seed documents, a
// sibling "shared" folder) or a path of one machine, and when a link to
// docs/ in a comment, the README or docs/ itself names a file or a section
// heading that does not exist, or a comment names a src/, test/, scripts/ or
// bench/ file that is not there.

const root = new URL('..', import.meta.url).pathname;
const CODE_DIRS = ['src', 'support', 'test', 'scripts'];
const CODE_EXT = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** What a comment must not cite, each with the hint the failure shows. */
const FORBIDDEN: Array<{ re: RegExp; hint: string }> = [
  { re: /\b(?:DESIGN|STYLE|TESTING)\.md\b/, hint: 'a note outside the repository: cite a docs/ page' },
  { re: /\bSTYLE habit\b/, hint: 'a note outside the repository: cite a docs/ page' },
  { re: /\bseeds?\s+\d{3}\b/i, hint: 'a platform seed: cite docs/seed-contract.md#…' },
  { re: /\bseeds\//, hint: 'a platform seed: cite docs/seed-contract.md#…' },
  { re: /\.\.\/shared\b/, hint: 'a folder outside the repository' },
  { re: /(?:^|[^\w.~-])\/(?:work|home)\/[\w./-]+/, hint: 'a path of one machine' },
];

/** `docs/<file>.md` with an optional `#anchor`. */
const DOCS_LINK = /\bdocs\/([\w./-]+?\.md)(#[\w-]+)?/g;

interface Comment {
  line: number;
  text: string;
}

function filesUnder(dir: string, keep: (f: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && keep(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !relative(root, f).split('/').includes('node_modules'))
    .sort();
}

/** Characters after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER = new Set([...'(,=:[!&|?{};+-*%<>~^']);
const REGEX_KEYWORDS = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/;

/**
 * The comments of a JavaScript/TypeScript source, with the line each starts
 * on. Strings, template literals (with `${}` nesting) and regular expression
 * literals are skipped, so text inside them is never taken for a comment.
 */
function commentsOf(src: string): Comment[] {
  const out: Comment[] = [];
  const templateDepth: number[] = [];
  let braces = 0;
  let line = 1;
  let last = '';
  let i = 0;
  const advance = (to: number): void => {
    for (let k = i; k < to && k < src.length; k++) if (src[k] === '\n') line++;
    i = to;
  };
  const skipQuoted = (quote: string): void => {
    let k = i + 1;
    while (k < src.length && src[k] !== quote && src[k] !== '\n') k += src[k] === '\\' ? 2 : 1;
    advance(k + 1);
  };
  const skipTemplate = (): void => {
    // From just after a backtick (or a closing `}` of `${…}`) to the closing backtick or the next `${`.
    let k = i;
    while (k < src.length) {
      if (src[k] === '\\') k += 2;
      else if (src[k] === '`') {
        advance(k + 1);
        return;
      } else if (src[k] === '$' && src[k + 1] === '{') {
        templateDepth.push(braces);
        braces++;
        advance(k + 2);
        return;
      } else k++;
    }
    advance(k);
  };
  const skipRegex = (): void => {
    let k = i + 1;
    let inClass = false;
    while (k < src.length && src[k] !== '\n') {
      const c = src[k];
      if (c === '\\') k += 2;
      else {
        if (c === '[') inClass = true;
        else if (c === ']') inClass = false;
        else if (c === '/' && !inClass) break;
        k++;
      }
    }
    k++;
    while (k < src.length && /[a-z]/i.test(src[k]!)) k++;
    advance(k);
  };
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out.push({ line, text: src.slice(i + 2, stop) });
      advance(stop);
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out.push({ line, text: src.slice(i + 2, end < 0 ? src.length : end) });
      advance(stop);
    } else if (c === '/' && (last === '' || REGEX_AFTER.has(last) || REGEX_KEYWORDS.test(src.slice(Math.max(0, i - 12), i).trimEnd()))) {
      skipRegex();
      last = 'x';
    } else if (c === "'" || c === '"') {
      skipQuoted(c);
      last = 'x';
    } else if (c === '`') {
      i++;
      skipTemplate();
      last = 'x';
    } else if (c === '}' && templateDepth.length > 0 && templateDepth.at(-1) === braces - 1) {
      templateDepth.pop();
      braces--;
      i++;
      skipTemplate();
      last = 'x';
    } else {
      if (c === '{') braces++;
      if (c === '}') braces--;
      last = c;
      i++;
    }
  }
  return out;
}

/** Heading anchors of a Markdown file, as GitHub makes them (duplicates get -1, -2 …). */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const raw of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (!m) continue;
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Problems with the docs/ links in `text`: a missing file, or a section that file does not have. */
function brokenDocsLinks(text: string): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(DOCS_LINK)) {
    const file = join(root, 'docs', m[1]!);
    if (!existsSync(file)) {
      problems.push(`docs/${m[1]} does not exist`);
    } else if (m[2] && !anchorsOf(readFileSync(file, 'utf8')).has(m[2].slice(1))) {
      problems.push(`docs/${m[1]} has no section ${m[2]}`);
    }
  }
  return problems;
}

/** The line of a position inside a comment. */
function lineOf(c: Comment, index: number): number {
  return c.line + (c.text.slice(0, index).match(/\n/g)?.length ?? 0);
}

const codeFiles = CODE_DIRS.flatMap((d) => filesUnder(join(root, d), (f) => CODE_EXT.test(f)));
const comments = codeFiles.map((f) => ({ file: relative(root, f), comments: commentsOf(readFileSync(f, 'utf8')) }));

t.test('the comment reader finds comments and skips strings, templates and regexes', async (t) => {
  const src = [
    "const a = 'x // not a comment';",
    'const r = /\\/\\/ not either/g; // one',
    'const s = `t ${`u // no`} /* no */`; /* two',
    ' still two */',
    'const d = 4 / 2; // three',
  ].join('\n');
  t.same(
    commentsOf(src).map((c) => [c.line, c.text.trim()]),
    [
      [2, 'one'],
      [3, 'two\n still two'],
      [5, 'three'],
    ],
  );
});

t.test('the anchors are those GitHub makes', async (t) => {
  const anchors = anchorsOf("# Top\n## S3: fauxqs behind a SigV4-verifying proxy\n## GCS: the project's own JSON-API server\n```\n# not a heading\n```\n## Top\n");
  t.same([...anchors], ['top', 's3-fauxqs-behind-a-sigv4-verifying-proxy', 'gcs-the-projects-own-json-api-server', 'top-1']);
});

t.test('the scan covers src/, test/ and scripts/', async (t) => {
  for (const d of CODE_DIRS) t.ok(comments.some((c) => c.file.startsWith(`${d}/`)), `files under ${d}/ are read`);
  t.ok(comments.reduce((n, c) => n + c.comments.length, 0) > 500, 'hundreds of comments are read');
});

t.test('no comment cites a document outside the repository or a path of one machine', async (t) => {
  const found: string[] = [];
  for (const { file, comments: list } of comments) {
    for (const c of list) {
      for (const { re, hint } of FORBIDDEN) {
        const m = re.exec(c.text);
        if (m) found.push(`${file}:${lineOf(c, m.index)}: "${m[0].trim()}" is ${hint}`);
      }
    }
  }
  t.same(found, [], 'comments cite files in the repository (docs/…) instead');
});

t.test('every docs/ link in a comment names a file and section that exist', async (t) => {
  const found: string[] = [];
  for (const { file, comments: list } of comments) {
    for (const c of list) for (const p of brokenDocsLinks(c.text)) found.push(`${file}:${c.line}: ${p}`);
  }
  t.same(found, []);
});

t.test('every repository path a comment names exists', async (t) => {
  const found: string[] = [];
  for (const { file, comments: list } of comments) {
    for (const c of list) {
      for (const m of c.text.matchAll(/(?<![\w./-])((?:src|support|test|scripts|bench)\/[\w./-]*\w\.(?:ts|js|json|md))\b/g)) {
        if (!existsSync(join(root, m[1]!))) found.push(`${file}:${lineOf(c, m.index)}: ${m[1]} does not exist`);
      }
    }
  }
  t.same(found, [], 'a comment that names a file names one that is there');
});

t.test('every docs/ link in the README names a file and section that exist', async (t) => {
  const found = brokenDocsLinks(readFileSync(join(root, 'README.md'), 'utf8'));
  t.same(found, []);
});

t.test('every link between docs/ pages resolves', async (t) => {
  const pages = filesUnder(join(root, 'docs'), (f) => f.endsWith('.md'));
  t.ok(pages.length >= 6, 'the docs/ pages exist');
  const found: string[] = [];
  for (const page of pages) {
    const text = readFileSync(page, 'utf8');
    for (const m of text.matchAll(/\]\(([\w./-]+\.md)?(#[\w-]+)?\)/g)) {
      if (!m[1] && !m[2]) continue;
      const target = m[1] ? join(page, '..', m[1]) : page;
      const name = `${relative(root, page)} → ${m[1] ?? ''}${m[2] ?? ''}`;
      if (!existsSync(target)) found.push(`${name}: no such file`);
      else if (m[2] && !anchorsOf(readFileSync(target, 'utf8')).has(m[2].slice(1))) found.push(`${name}: no such section`);
    }
    for (const p of brokenDocsLinks(text)) found.push(`${relative(root, page)}: ${p}`);
  }
  t.same(found, []);
});
