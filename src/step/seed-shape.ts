import type { Config } from '../config/types.js';
import { BlobgateError } from '../errors.js';
import { resolveMediaType } from '../persist/media-type.js';
import { interpolate, type TemplateScope } from '../persist/templates.js';
import { keyword, RESPONSE_AS, type ResponseAs, type StepRequest } from '../upstream/types.js';
import type { StepBody } from './run-step.js';

/**
 * A step as the API receives it, in either shape (README "The HTTP step"):
 * blobgate's nested `{request, persist, params, slots}`, or the platform's
 * flat step map written as JSON — the request fields, `data`, `template`,
 * `persist` and the runtime fields side by side, values as keywords or plain.
 */
export type StepInput = StepRequest & {
  'flow-slug': string;
  'step-id': string;
  'run-id'?: string;
  'profile-id'?: string;
  type?: string;
  title?: string;
  request?: StepRequest;
  data?: Record<string, unknown>;
  input?: Record<string, unknown>;
  persist?: PersistInput;
  params?: { input?: Record<string, unknown>; data?: Record<string, unknown> };
  slots?: Record<string, BindingInput>;
  bindings?: Record<string, BindingInput>;
};

export type PersistInput = Omit<NonNullable<StepBody['persist']>, 'type' | 'tier'> & { type: string; tier?: string };

/** A slot binding: short `{root, connection, profile-id, prefix}`, or the seed's `{binding-type, connection-id, config: {root, prefix}}`. */
export interface BindingInput {
  root?: string;
  connection?: string;
  'profile-id'?: string;
  prefix?: string;
  'binding-type'?: string;
  'connection-id'?: string;
  config?: { root?: string; prefix?: string };
}

/** The request fields, as they may stand at the top of a flat step. */
const REQUEST_FIELDS = [
  'url', 'method', 'headers', 'query', 'json', 'form', 'body', 'content-type', 'accept', 'response-as', 'timeout',
  'client-opts', 'connection', 'path', 'auth', 'retry', 'multipart', 'body-from-ref', 'template', 'parser-fn',
] as const satisfies ReadonlyArray<keyof StepRequest>;

/**
 * Reads a step in either shape into the nested one the runner takes, with
 * every keyword resolved and checked, and a named template merged in. All of
 * it happens before any upstream byte is sent.
 */
export function normalizeStep(config: Config, workspace: string, body: StepInput): StepBody {
  const flat = REQUEST_FIELDS.filter((f) => body[f] !== undefined);
  if (body.request !== undefined && flat.length > 0) {
    throw invalid(`This step mixes the nested form (request) with the flat form (${flat.join(', ')} at the top): give the request fields in one place.`, flat[0] ?? 'request');
  }
  const seedParams = (['data', 'input'] as const).filter((f) => body[f] !== undefined);
  if (body.params !== undefined && seedParams.length > 0) {
    throw invalid(`This step gives params and ${seedParams.join(' and ')} at the top: give them either as params.input/params.data or as top-level input/data, not both.`, seedParams[0] ?? 'params');
  }
  if (body.slots !== undefined && body.bindings !== undefined) throw invalid('Give slot bindings as slots or as bindings, not both.', 'bindings');
  if (body.request === undefined && !flat.some((f) => f === 'url' || f === 'connection' || f === 'template')) {
    throw invalid('The step names no request: give url (or connection with path, or a template) at the top of the step, or a request object.', 'url');
  }
  const raw: StepRequest = body.request ?? pick(body, flat);
  const field = body.request !== undefined ? (name: string) => `request.${name}` : (name: string) => name;
  if (raw['parser-fn'] !== undefined) {
    throw invalid(`${field('parser-fn')} is not supported: blobgate runs no caller code. Choose the parse with response-as (auto, json, text, bytes, edn, xml) and transform the result in a later step.`, field('parser-fn'));
  }
  const input = body.input ?? body.params?.input ?? {};
  const data = body.data ?? body.params?.data ?? {};
  const runtime = runtimeFields(workspace, body);
  const merged = raw.template === undefined ? raw : withTemplate(config, workspace, raw, { input, data, ...runtime }, field('template'));
  const slots = body.slots ?? body.bindings;
  return {
    'flow-slug': body['flow-slug'],
    'step-id': body['step-id'],
    ...(body['run-id'] !== undefined ? { 'run-id': body['run-id'] } : {}),
    request: normalizeRequest(merged, field),
    ...(body.persist !== undefined ? { persist: normalizePersist(body.persist) } : {}),
    params: { input, data },
    ...(slots !== undefined ? { slots: normalizeSlots(config, slots, body['profile-id'], body.bindings !== undefined ? 'bindings' : 'slots') } : {}),
  };
}

function runtimeFields(workspace: string, body: StepInput): TemplateScope {
  return {
    'workspace-id': workspace,
    'flow-slug': body['flow-slug'],
    'step-id': body['step-id'],
    ...(body['run-id'] !== undefined ? { 'run-id': body['run-id'] } : {}),
  };
}

function pick(body: StepInput, fields: ReadonlyArray<keyof StepRequest>): StepRequest {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = body[f];
  return out as StepRequest;
}

/** Keywords become plain values; content types become media types, refused here if they are not one. */
function normalizeRequest(req: StepRequest, field: (name: string) => string): StepRequest {
  const out: StepRequest = { ...req };
  if (req.method !== undefined) out.method = keyword(req.method);
  if (req['response-as'] !== undefined) out['response-as'] = responseAs(req['response-as'], field('response-as'));
  if (req['content-type'] !== undefined) out['content-type'] = resolveMediaType(req['content-type'], field('content-type'));
  if (req.accept !== undefined) out.accept = resolveMediaType(req.accept, field('accept'));
  if (req.connection !== undefined) out.connection = keyword(req.connection);
  return out;
}

function responseAs(value: string, field: string): ResponseAs {
  const v = keyword(value);
  if (!(RESPONSE_AS as readonly string[]).includes(v)) throw invalid(`${field} ${JSON.stringify(value)} is not one of ${RESPONSE_AS.join(', ')}.`, field);
  return v as ResponseAs;
}

function normalizePersist(p: PersistInput): NonNullable<StepBody['persist']> {
  const type = keyword(p.type);
  if (type !== 'blob') throw invalid(`persist.type ${JSON.stringify(p.type)} is not supported: blobgate persists blobs only (type blob).`, 'persist.type');
  const tier = p.tier === undefined ? undefined : keyword(p.tier);
  if (tier !== undefined && tier !== 'retained' && tier !== 'ephemeral') throw invalid(`persist.tier ${JSON.stringify(p.tier)} is not retained or ephemeral.`, 'persist.tier');
  const { tier: _tier, type: _type, ...rest } = p;
  return {
    ...rest,
    type,
    ...(tier !== undefined ? { tier } : {}),
    ...(p['content-type'] !== undefined ? { 'content-type': resolveMediaType(p['content-type'], 'persist.content-type') } : {}),
    ...(p.slot !== undefined ? { slot: keyword(p.slot) } : {}),
  };
}

/**
 * The request template a step names, with its string fields interpolated
 * from the step's `data`, `input` and runtime fields, then the step's own
 * fields over it (headers and query merge name by name, the step's winning).
 */
function withTemplate(config: Config, workspace: string, req: StepRequest, scope: TemplateScope, field: string): StepRequest {
  const id = keyword(String(req.template));
  const ofWorkspace = Object.hasOwn(config.templates, workspace) ? config.templates[workspace] : undefined;
  const template = ofWorkspace && Object.hasOwn(ofWorkspace, id) ? ofWorkspace[id] : undefined;
  if (template === undefined) {
    const known = Object.keys(ofWorkspace ?? {});
    throw invalid(`${field} "${id}" is not a request template of workspace "${workspace}" (${known.length ? `known: ${known.join(', ')}` : 'it has none; define them in the templates configuration key'}).`, field);
  }
  const filled = fillStrings(template, scope, `template ${id}`) as StepRequest;
  const { template: _named, ...own } = req;
  const out: StepRequest = { ...filled, ...own };
  if (filled.headers !== undefined && own.headers !== undefined) out.headers = { ...filled.headers, ...own.headers };
  if (filled.query !== undefined && own.query !== undefined) out.query = { ...filled.query, ...own.query };
  return out;
}

/** Every string inside `value`, interpolated; an unknown variable is template_unresolved naming where it was. */
function fillStrings(value: unknown, scope: TemplateScope, where: string): unknown {
  if (typeof value === 'string') return interpolate(value, scope, where);
  if (Array.isArray(value)) return value.map((v, i) => fillStrings(v, scope, `${where}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillStrings(v, scope, `${where}.${k}`)]));
  }
  return value;
}

/**
 * Slot bindings in blobgate's short form. The seed's connection-id names a
 * storage connection: "platform" is the store of the persist's tier, any
 * other id is looked up in the storage-connections configuration key. The
 * tier↔store rule (src/persist/placement.ts storeForTier) applies either way.
 */
function normalizeSlots(config: Config, slots: Record<string, BindingInput>, profileId: string | undefined, key: string): StepBody['slots'] {
  const out: NonNullable<StepBody['slots']> = {};
  for (const [rawName, b] of Object.entries(slots)) {
    const name = keyword(rawName);
    const at = `${key}.${rawName}`;
    const seed = b['binding-type'] !== undefined || b['connection-id'] !== undefined || b.config !== undefined;
    const short = (['root', 'connection', 'prefix'] as const).filter((f) => b[f] !== undefined);
    if (seed && short.length > 0) throw invalid(`${at} mixes the short form (${short.join(', ')}) with the seed's binding-type/connection-id/config: use one.`, `${at}.${short[0]}`);
    const root = b.root ?? b.config?.root;
    const prefix = b.prefix ?? b.config?.prefix;
    const profile = b['profile-id'] ?? profileId;
    const connection = b.connection ?? (b['connection-id'] !== undefined ? storeOfConnection(config, keyword(b['connection-id']), `${at}.connection-id`) : undefined);
    out[name] = {
      ...(root !== undefined ? { root } : {}),
      ...(connection !== undefined ? { connection } : {}),
      ...(profile !== undefined ? { 'profile-id': profile } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
    };
  }
  return out;
}

function storeOfConnection(config: Config, id: string, field: string): string | undefined {
  if (id === 'platform') return undefined;
  if (Object.hasOwn(config.storageConnections, id)) return config.storageConnections[id];
  const known = ['platform', ...Object.keys(config.storageConnections)];
  throw invalid(`${field} "${id}" is not a storage connection (known: ${known.join(', ')}); map it to a store under storage-connections in the configuration.`, field);
}

function invalid(message: string, field: string): BlobgateError {
  return new BlobgateError('invalid_request', message, { field });
}
