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
  // Fields of later issues; rejected with a clear message until they land.
  template?: unknown;
  'parser-fn'?: unknown;
}

export type QueryValue = string | number | boolean;
export type ResponseAs = 'auto' | 'json' | 'text' | 'bytes' | 'edn' | 'xml';

export const NOT_YET_SUPPORTED = ['template', 'parser-fn'] as const;
