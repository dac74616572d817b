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
 * `\uNNNN`, which edn-data would otherwise read as the delimiter itself.
 */
export function scanEdn(text: string, maxDepth: number): { problem: EdnProblem } | { text: string } {
  const pieces: string[] = [];
  let copied = 0;
  const top: Level = { close: '', map: false, forms: 0, discards: 0, tags: 0, offset: 0 };
  const stack: Level[] = [top];
  const at = (i: number, message: string): { problem: EdnProblem } => ({ problem: { message, ...textPosition(text, i), offset: i } });
  const where = (level: Level): string => {
    const p = textPosition(text, level.offset);
    return `line ${p.line}, column ${p.column}`;
  };
  const formDone = (): void => {
    const level = stack.at(-1)!;
    level.tags = 0; // every pending tag wraps this one form
    if (level.discards > 0) level.discards--;
    else level.forms++;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === ',') continue;
    if (c === ';') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      continue;
    }
    const discard = c === '#' && text[i + 1] === '_';
    if (stack.length === 1 && top.forms >= 1 && top.discards === 0 && !discard && !CLOSE.has(c)) {
      return at(i, 'more than one top-level form');
    }
    if (c === '"') {
      const end = scanString(text, i);
      if (typeof end !== 'number') return at(end.at, end.message);
      i = end;
      formDone();
      continue;
    }
    const opens = OPEN[c] ?? (c === '#' && text[i + 1] === '{' ? '}' : undefined);
    if (opens !== undefined) {
      if (stack.length > maxDepth) return at(i, `nesting deeper than ${maxDepth} levels`);
      stack.push({ close: opens, map: c === '{', forms: 0, discards: 0, tags: 0, offset: i });
      if (c === '#') i++;
      continue;
    }
    if (CLOSE.has(c)) {
      const level = stack.at(-1)!;
      if (level.close !== c) return at(i, stack.length === 1 ? `unexpected "${c}"` : `"${c}" closes a collection opened with a different bracket at ${where(level)}`);
      if (level.tags > 0 || level.discards > 0) return at(i, 'a tag or #_ has no form before the closing bracket');
      if (level.map && level.forms % 2 !== 0) return at(i, 'a map holds a key without a value');
      stack.pop();
      formDone();
      continue;
    }
    if (discard) {
      stack.at(-1)!.discards++;
      i++;
      continue;
    }
    // An atom: a number, keyword, symbol, tag or character literal, up to the next delimiter.
    let j = i + 1;
    if (c === '\\') j++; // a character literal may itself be a delimiter: \( \space
    while (j < text.length && !DELIMITERS.has(text[j]!)) j++;
    if (c === '\\' && i + 1 >= text.length) return at(i, 'a character literal with no character');
    if (c === '\\' && DELIMITERS.has(text[i + 1]!)) {
      pieces.push(text.slice(copied, i), `\\u${text.charCodeAt(i + 1).toString(16).padStart(4, '0')}`);
      copied = i + 2;
    }
    if (/^[-+]?\d{16,}$/.test(text.slice(i, j)) && !Number.isSafeInteger(Number(text.slice(i, j)))) {
      // An integer past 2^53 would lose digits as a number; read it as a bigint (`…N`), which the JSON keeps as digits.
      pieces.push(text.slice(copied, j), 'N');
      copied = j;
    }
    if (c === '#') {
      if (j === i + 1) return at(i, 'a "#" with no tag name');
      stack.at(-1)!.tags++;
    } else {
      formDone();
    }
    i = j - 1;
  }
  const open = stack.at(-1)!;
  if (stack.length > 1) return at(text.length, `the collection opened at ${where(open)} is never closed`);
  if (top.tags > 0 || top.discards > 0) return at(text.length, 'a tag or #_ has no form after it');
  pieces.push(text.slice(copied));
  return { text: pieces.join('') };
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
