/** Replaces every secret value in a text (an upstream error excerpt or URL that echoes one). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue;
    out = out.split(s).join('[redacted]');
    // A secret sent in a query string comes back percent-encoded.
    const encoded = encodeURIComponent(s);
    if (encoded !== s) out = out.split(encoded).join('[redacted]');
  }
  return out;
}
