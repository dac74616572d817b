/** The HTTP step's `request` object as the API receives it (kebab-case, docs/seed-contract.md#the-http-step). */
export interface StepRequest {
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  query?: Record<string, QueryValue | QueryValue[]>;
  json?: unknown;
  form?: Record<string, QueryValue | QueryValue[]>;
  body?: unknown;
  'content-type'?: string;
  accept?: string;
  'response-as'?: ResponseAs;
  timeout?: number;
  'client-opts'?: { 'max-response-bytes'?: number; 'max-redirects'?: number; 'total-timeout'?: number };
  connection?: string;
  path?: string;
  auth?: unknown;
  multipart?: unknown;
  'body-from-ref'?: unknown;
  retry?: unknown;
  /** An HTTP request template id (src/step/seed-shape.ts merges it in before the request is built). */
  template?: unknown;
  /** Refused: blobgate runs no caller code (src/step/seed-shape.ts). */
  'parser-fn'?: unknown;
}

export type QueryValue = string | number | boolean;
export type ResponseAs = 'auto' | 'json' | 'text' | 'bytes' | 'edn' | 'xml';

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
export const RESPONSE_AS = ['auto', 'json', 'text', 'bytes', 'edn', 'xml'] as const;

/**
 * An enumerated value as blobgate compares it: the seeds write keywords
 * (`:get`, `:bytes`), JSON callers plain strings (`get`, `bytes`); both mean
 * the same value.
 */
export function keyword(value: string): string {
  return value.startsWith(':') ? value.slice(1) : value;
}
