/**
 * Names that carry credentials. One list, used everywhere a credential must be
 * recognised: a literal header or query parameter of that name in a step or a
 * connection is an inline secret (refused), and every header of that name is
 * removed when a redirect changes origin.
 *
 * Where the names come from:
 * - `authorization`, `proxy-authorization`: RFC 9110 §11.6.2 and §11.7.2. The
 *   Fetch standard ("HTTP-redirect fetch", step 13) removes `Authorization` on
 *   a cross-origin redirect; undici (lib/handler/redirect-handler.js) and curl
 *   (CVE-2018-1000007, CVE-2022-27776) also drop `Cookie` and
 *   `Proxy-Authorization` there.
 * - `cookie`, `cookie2`: RFC 6265 §5.4 / RFC 2965; a session cookie is a
 *   bearer credential (OWASP Session Management Cheat Sheet).
 * - vendor API-key and token headers in common use: `x-api-key` (AWS API
 *   Gateway), `api-key` (Azure OpenAI, Azure AI Search), `x-goog-api-key`
 *   (Google APIs), `x-auth-token` (OpenStack Keystone, many others),
 *   `private-token`, `job-token`, `deploy-token` (GitLab), `x-amz-security-token`
 *   (AWS SigV4 session token), `ocp-apim-subscription-key` (Azure API
 *   Management), `x-functions-key` (Azure Functions), `x-vault-token`,
 *   `x-consul-token`, `x-nomad-token` (HashiCorp), `x-rapidapi-key` (RapidAPI),
 *   `x-shopify-access-token` (Shopify), `x-auth-key` (Cloudflare),
 *   `x-postmark-server-token` (Postmark), and the generic `x-access-token`,
 *   `x-api-token`.
 *
 * A step that needs one of these sends it through `auth` with a secret-ref
 * (api-key with `header`), never literally.
 */
export const CREDENTIAL_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'cookie2',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-auth-token',
  'private-token',
  'job-token',
  'deploy-token',
  'x-amz-security-token',
  'ocp-apim-subscription-key',
  'x-functions-key',
  'x-vault-token',
  'x-consul-token',
  'x-nomad-token',
  'x-rapidapi-key',
  'x-shopify-access-token',
  'x-auth-key',
  'x-postmark-server-token',
  'x-access-token',
  'x-api-token',
];

/**
 * Query parameters that carry credentials: OAuth 2.0 bearer tokens in a URI
 * (`access_token`, RFC 6750 §2.3), OAuth client secrets (`client_secret`,
 * RFC 6749 §2.3.1), Google API keys (`key`), and the generic api-key/token
 * spellings. Signature parameters of presigned URLs (`X-Amz-Signature`,
 * `X-Goog-Signature`, `sig`) are deliberately absent: a presigned URL is a
 * capability the caller may hand over, and blobgate is often asked to fetch one.
 */
export const CREDENTIAL_QUERY_PARAMS: readonly string[] = [
  'access_token',
  'api_key',
  'apikey',
  'api-key',
  'key',
  'token',
  'auth_token',
  'client_secret',
  'password',
];

export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.includes(name.toLowerCase());
}

export function isCredentialQueryParam(name: string): boolean {
  return CREDENTIAL_QUERY_PARAMS.includes(name.toLowerCase());
}
