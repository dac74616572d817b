import type { Reader } from './reader.js';
import type { Config, RequestTemplate, StoreConfig } from './types.js';

// The parts of the configuration that shape HTTP steps as the platform writes
// them: request templates a step names with `template`, and the stores a slot
// binding's `connection-id` names (README "Configuration").

/** Request fields a template may set, by the kind of value each takes; step-level keys (persist, data …) stay on the step. */
const TEMPLATE_FIELDS: Record<string, 'string' | 'object' | 'number' | 'array' | 'any'> = {
  url: 'string', connection: 'string', path: 'string', method: 'string', 'content-type': 'string', accept: 'string', 'response-as': 'string',
  headers: 'object', query: 'object', form: 'object', auth: 'object', 'client-opts': 'object', retry: 'object', 'body-from-ref': 'object',
  multipart: 'array', timeout: 'number', json: 'any', body: 'any',
};

/**
 * templates.<ws>.<id>: HTTP request templates, checked here so a bad one
 * stops start-up rather than a step. `isCredentialHeader` comes from load.ts,
 * which may use the secrets layer's name list (docs/architecture.md#layers).
 */
export function readTemplates(r: Reader, isCredentialHeader: (name: string) => boolean): Config['templates'] {
  const section = r.child('templates');
  const out: Config['templates'] = {};
  for (const ws of section.keys()) {
    const wsSection = section.child(ws);
    out[ws] = {};
    for (const id of wsSection.keys()) out[ws][id.replace(/^:/, '')] = readTemplate(wsSection.child(id), isCredentialHeader);
  }
  return out;
}

/**
 * One template: its request fields, or the platform's own entry
 * `{type: "http-request", request: {…}}` (the id is the key here).
 */
function readTemplate(entry: Reader, isCredentialHeader: (name: string) => boolean): RequestTemplate {
  let tpl = entry;
  if (entry.keys().includes('request')) {
    entry.only(['type', 'request', 'id']);
    const type = entry.string('type');
    if (type !== undefined && type.replace(/^:/, '') !== 'http-request') entry.problem('type', 'must be http-request (templates only cover request shape)');
    tpl = entry.child('request');
  }
  const fields: Record<string, unknown> = {};
  for (const key of tpl.keys()) {
    const kind = TEMPLATE_FIELDS[key];
    const value: unknown = tpl.raw(key);
    if (kind === undefined) tpl.problem(key, `is not a request field a template may set (${Object.keys(TEMPLATE_FIELDS).join(', ')}); step-level keys such as persist and data stay on the step`);
    else if (!hasKind(value, kind)) tpl.problem(key, `must be ${kind === 'any' ? 'set' : `a${kind === 'array' ? 'n' : ''} ${kind}`}`);
    else fields[key] = JSON.parse(JSON.stringify(value)) as unknown;
  }
  const headers = fields.headers as Record<string, unknown> | undefined;
  for (const h of Object.keys(headers ?? {})) {
    if (typeof headers?.[h] !== 'string') tpl.problem(`headers.${h}`, 'must be a string');
    if (isCredentialHeader(h)) tpl.problem(`headers.${h}`, 'credentials go in "auth" as a secret-ref, never as a literal header');
  }
  return fields;
}

function hasKind(value: unknown, kind: 'string' | 'object' | 'number' | 'array' | 'any'): boolean {
  if (kind === 'any') return value !== undefined;
  if (kind === 'array') return Array.isArray(value);
  if (kind === 'object') return value !== null && typeof value === 'object' && !Array.isArray(value);
  return typeof value === kind;
}

/** storage-connections.<id>: the store a slot binding's connection-id names. "platform" is reserved for the tier's own store. */
export function readStorageConnections(r: Reader, stores: Record<string, StoreConfig>): Config['storageConnections'] {
  const section = r.child('storage-connections');
  const out: Config['storageConnections'] = {};
  for (const id of section.keys()) {
    const store = section.string(id, true);
    if (id === 'platform') section.problem(id, 'is reserved: connection-id "platform" always means the store of the persist\'s tier');
    else if (store !== undefined && !(store in stores)) section.problem(id, `names store "${store}", which is not configured (stores: ${Object.keys(stores).join(', ') || 'none'})`);
    else if (store !== undefined) out[id] = store;
  }
  return out;
}
