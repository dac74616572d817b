/**
 * One pass over EDN text that checks its structure before edn-data builds a
 * value: edn-data answers some malformed input with a partial value or
 * `null` (an unclosed map, a map with an odd number of forms, a stray second
 * top-level form) and never says where. This scan finds those, with the
 * line and column, and bounds the nesting so no later walk of the value can
 * overflow the stack. It is a lexer, not a parser: atoms are only delimited.
 */
export interface EdnProblem {
  message: string;
  line: number;
  column: number;
  offset: number;
}

interface Level {
  close: string;
  map: boolean;
  forms: number;
  discards: number;
  /** Tags (`#inst`) waiting for their form; a tag and its form are one form. */
  tags: number;
  /** Where the collection opened. */
  offset: number;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE = new Set([')', ']', '}']);
const STRING_ESCAPES = new Set(['t', 'r', 'n', 'b', 'f', '\\', '"']);
const DELIMITERS = new Set([' ', '\t', '\n', '\r', ',', '(', ')', '[', ']', '{', '}', '"', ';']);

/**
 * The first structural problem, or the text to hand to edn-data: the same
 * text with character literals of delimiters (`\(`, `\"`, `\;` …) spelled
 * `\uNNNN`, which edn-data would otherwise read as the delimiter itself, and
 * integers too large for a double marked `N`, which it would round.
 */
export function scanEdn(text: string, maxDepth: number): { problem: EdnProblem } | { text: string } {
  try {
    return { text: new EdnScanner(text, maxDepth).run() };
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    return { problem: { message: err.message, ...textPosition(text, err.offset), offset: err.offset } };
  }
}

class Malformed extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

class EdnScanner {
  private readonly top: Level = { close: '', map: false, forms: 0, discards: 0, tags: 0, offset: 0 };
  private readonly stack: Level[] = [this.top];
  private readonly pieces: string[] = [];
  private copied = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  /** Scans the whole text; returns it with the rewrites applied, or throws Malformed. */
  run(): string {
    const { text } = this;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === ',') continue;
      if (c === ';') {
        while (i + 1 < text.length && text[i + 1] !== '\n') i++;
        continue;
      }
      i = this.token(i, c);
    }
    if (this.stack.length > 1) throw new Malformed(text.length, `the collection opened at ${this.where(this.level())} is never closed`);
    if (this.top.tags > 0 || this.top.discards > 0) throw new Malformed(text.length, 'a tag or #_ has no form after it');
    this.pieces.push(text.slice(this.copied));
    return this.pieces.join('');
  }

  /** Handles the token starting at `i`; returns the index of its last character. */
  private token(i: number, c: string): number {
    const { text } = this;
    const discard = c === '#' && text[i + 1] === '_';
    if (this.stack.length === 1 && this.top.forms >= 1 && this.top.discards === 0 && !discard && !CLOSE.has(c)) {
      throw new Malformed(i, 'more than one top-level form');
    }
    if (c === '"') {
      const end = scanString(text, i);
      if (typeof end !== 'number') throw new Malformed(end.at, end.message);
      this.formDone();
      return end;
    }
    const opens = OPEN[c] ?? (c === '#' && text[i + 1] === '{' ? '}' : undefined);
    if (opens !== undefined) {
      if (this.stack.length > this.maxDepth) throw new Malformed(i, `nesting deeper than ${this.maxDepth} levels`);
      this.stack.push({ close: opens, map: c === '{', forms: 0, discards: 0, tags: 0, offset: i });
      return c === '#' ? i + 1 : i;
    }
    if (CLOSE.has(c)) {
      this.close(i, c);
      return i;
    }
    if (discard) {
      this.level().discards++;
      return i + 1;
    }
    return this.atom(i, c);
  }

  private close(i: number, c: string): void {
    const level = this.level();
    if (level.close !== c) {
      throw new Malformed(i, this.stack.length === 1 ? `unexpected "${c}"` : `"${c}" closes a collection opened with a different bracket at ${this.where(level)}`);
    }
    if (level.tags > 0 || level.discards > 0) throw new Malformed(i, 'a tag or #_ has no form before the closing bracket');
    if (level.map && level.forms % 2 !== 0) throw new Malformed(i, 'a map holds a key without a value');
    this.stack.pop();
    this.formDone();
  }

  /** A number, keyword, symbol, tag or character literal, up to the next delimiter; returns its last index. */
  private atom(i: number, c: string): number {
    const { text } = this;
    let j = i + 1;
    if (c === '\\') {
      if (i + 1 >= text.length) throw new Malformed(i, 'a character literal with no character');
      j++; // a character literal may itself be a delimiter: \( \space
      if (DELIMITERS.has(text[i + 1]!)) this.rewrite(i, i + 2, `\\u${text.charCodeAt(i + 1).toString(16).padStart(4, '0')}`);
    }
    while (j < text.length && !DELIMITERS.has(text[j]!)) j++;
    const atom = text.slice(i, j);
    if (/^[-+]?\d{16,}$/.test(atom) && !Number.isSafeInteger(Number(atom))) {
      // An integer past 2^53 would lose digits as a number; as a bigint (`…N`) the JSON keeps its digits.
      this.rewrite(i, j, `${atom}N`);
    }
    if (c === '#') {
      if (j === i + 1) throw new Malformed(i, 'a "#" with no tag name');
      this.level().tags++;
    } else {
      this.formDone();
    }
    return j - 1;
  }

  /** Replaces text[from, to) in the output. */
  private rewrite(from: number, to: number, replacement: string): void {
    this.pieces.push(this.text.slice(this.copied, from), replacement);
    this.copied = to;
  }

  private formDone(): void {
    const level = this.level();
    level.tags = 0; // every pending tag wraps this one form
    if (level.discards > 0) level.discards--;
    else level.forms++;
  }

  private level(): Level {
    return this.stack.at(-1)!;
  }

  private where(level: Level): string {
    const p = textPosition(this.text, level.offset);
    return `line ${p.line}, column ${p.column}`;
  }
}

/** Index of the closing quote of the string starting at `start`, or where and why it is malformed. */
function scanString(text: string, start: number): number | { at: number; message: string } {
  for (let j = start + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '"') return j;
    if (c !== '\\') continue;
    const e = text[j + 1];
    if (e === 'u') {
      if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) return { at: j, message: 'a \\u escape needs four hex digits' };
      j += 5;
    } else if (e !== undefined && STRING_ESCAPES.has(e)) {
      j++;
    } else {
      return { at: j, message: `an unknown string escape "\\${e ?? ''}"` };
    }
  }
  return { at: start, message: 'a string that is never closed' };
}

/** 1-based line and column of an offset (columns count UTF-16 code units). */
export function textPosition(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
