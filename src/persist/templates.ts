import { BlobgateError } from '../errors.js';

/**
 * `{{expr}}` and its equivalent spelling `<<expr>>` (docs/key-layout.md#templates).
 * `expr` is a dotted path into the step's resolved params or a runtime field.
 * An unknown variable is `template_unresolved` naming it — never an empty
 * string. Values must be scalars (string, number, boolean).
 */
const TEMPLATE_RE = /\{\{\s*([^{}]*?)\s*\}\}|<<\s*([^<>]*?)\s*>>/g;
const EXPR_RE = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

export type TemplateScope = Record<string, unknown>;

export function interpolate(template: string, scope: TemplateScope, field: string): string {
  return template.replace(TEMPLATE_RE, (_match, a: string | undefined, b: string | undefined) => {
    const expr = (a ?? b ?? '').trim();
    if (!EXPR_RE.test(expr)) {
      throw new BlobgateError('template_unresolved', `${field}: "${expr}" is not a variable path (use e.g. {{input.tenant-id}} or {{step-id}}).`, { field, variable: expr });
    }
    const value = lookup(scope, expr);
    if (value === undefined || value === null) {
      throw new BlobgateError('template_unresolved', `${field}: the variable "${expr}" is not defined. Known roots: ${Object.keys(scope).sort().join(', ')}.`, { field, variable: expr });
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new BlobgateError('template_unresolved', `${field}: the variable "${expr}" is not a string, number or boolean.`, { field, variable: expr });
  });
}

function lookup(scope: TemplateScope, expr: string): unknown {
  // Runtime fields contain dashes (workspace-id) and are matched whole first.
  if (Object.hasOwn(scope, expr)) return scope[expr];
  let current: unknown = scope;
  for (const part of expr.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
