const REDACTED = '[redacted]';
/** Values shorter than this are not scrubbed: replacing every "abc" in a text would hide more than it protects. */
const MIN_SECRET_LENGTH = 4;

/**
 * The spellings in which an upstream may echo a secret it was sent: as is,
 * percent-encoded (a path or a query built with encodeURIComponent), form-encoded
 * (`+` for a space, as URLSearchParams writes a query), JSON-escaped (with and
 * without `\/`, as PHP's json_encode writes it) and base64.
 */
function secretForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const forms = [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ v: secret }).toString().slice(2),
    json,
    json.replace(/\//g, '\\/'),
    Buffer.from(secret, 'utf8').toString('base64'),
  ];
  return [...new Set(forms)];
}

function allForms(secrets: readonly string[]): string[] {
  const forms = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap(secretForms);
  // Longest first: a form that contains another is replaced whole.
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

function replaceForms(text: string, forms: readonly string[]): string {
  let out = text;
  for (const f of forms) out = out.split(f).join(REDACTED);
  return out;
}

/** Replaces every secret value, in each spelling an echo may use, in a text (an upstream error excerpt or URL). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return replaceForms(text, allForms(secrets));
}

/** Removes a tail that is the start of a secret's spelling: a cut there would show the secret's first bytes. */
function dropSecretPrefixTail(text: string, forms: readonly string[]): string {
  let longest = 0;
  for (const f of forms) {
    for (let n = Math.min(f.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(f.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest > 0 ? text.slice(0, text.length - longest) : text;
}

/**
 * At most `max` bytes of `bytes` as text, with every secret scrubbed. The
 * scrub runs before the cut, on `max` plus the longest spelling's bytes (see
 * excerptReadBytes), so a secret straddling the cut is replaced whole; what is
 * left at the end that is the start of a secret (one the read limit cut) goes.
 */
export function scrubExcerpt(bytes: Buffer, secrets: readonly string[], max: number): string {
  const forms = allForms(secrets);
  const scrubbed = Buffer.from(replaceForms(bytes.toString('utf8'), forms), 'utf8');
  // A cut inside a multi-byte character leaves U+FFFD, never a broken secret.
  const cut = scrubbed.subarray(0, max).toString('utf8');
  return dropSecretPrefixTail(cut, forms);
}

/** How many bytes to read for an excerpt of `max`: enough that a secret starting before `max` is read whole. */
export function excerptReadBytes(secrets: readonly string[], max: number): number {
  return max + Math.max(0, ...allForms(secrets).map((f) => Buffer.byteLength(f, 'utf8')));
}

/**
 * A scrubbed excerpt of at most `max` bytes from the start of a body. Reading
 * stops once enough is in hand (leaving the loop destroys the body); a body
 * that fails mid-read gives an empty excerpt, as the excerpt is a courtesy.
 */
export async function safeExcerpt(body: AsyncIterable<unknown>, secrets: readonly string[], max: number): Promise<string> {
  const limit = excerptReadBytes(secrets, max);
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      parts.push(buf);
      size += buf.length;
      if (size >= limit) break;
    }
  } catch {
    return '';
  }
  return scrubExcerpt(Buffer.concat(parts).subarray(0, limit), secrets, max);
}
