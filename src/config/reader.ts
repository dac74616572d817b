/**
 * A small reader over untyped JSON that records every problem with its path
 * instead of stopping at the first, so a config with five mistakes reports all
 * five at once.
 */
export class Reader {
  private readonly obj: Record<string, unknown>;

  constructor(
    value: unknown,
    private readonly problems: string[],
    private readonly path = '',
  ) {
    if (value === undefined) {
      this.obj = {};
      this.present = false;
    } else if (value !== null && typeof value === 'object') {
      this.obj = value as Record<string, unknown>;
      this.present = true;
    } else {
      this.obj = {};
      this.present = false;
      problems.push(`${path || 'config'}: must be an object`);
    }
  }

  readonly present: boolean;

  keys(): string[] {
    return Object.keys(this.obj);
  }

  child(key: string): Reader {
    return new Reader(this.obj[key], this.problems, this.at(key));
  }

  problem(key: string, message: string): void {
    this.problems.push(`${this.at(key)}: ${message}`);
  }

  /** Reports keys that are not in `allowed` (a misspelt key is a mistake, never silently ignored). */
  only(allowed: string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (!allowed.includes(key)) this.problem(key, `unknown key (known: ${allowed.join(', ')})`);
    }
  }

  /** The raw value under `key`, for sections validated by their own module. */
  raw(key: string): unknown {
    return this.obj[key];
  }

  string(key: string, required = false): string | undefined {
    const v = this.obj[key];
    if (v === undefined) return this.missing(key, required);
    if (typeof v !== 'string' || v === '') return this.wrong(key, 'a non-empty string');
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.wrong(key, 'true or false');
    return v;
  }

  number(key: string, min: number, max: number): number | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return this.wrong(key, `a number from ${min} to ${max}`);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) return this.wrong(key, `an integer from ${min} to ${max}`);
    return v;
  }

  envInt(name: string, value: string, min: number, max: number): number {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      this.problems.push(`${name}: must be an integer from ${min} to ${max}, got "${value}"`);
      return min;
    }
    return n;
  }

  oneOf<T extends string>(key: string, values: readonly T[], required = false): T | undefined {
    const v = this.obj[key];
    if (v === undefined) return this.missing(key, required);
    if (typeof v !== 'string' || !values.includes(v as T)) return this.wrong(key, `one of ${values.join(', ')}`);
    return v as T;
  }

  array(key: string): unknown[] {
    const v = this.obj[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.wrong(key, 'an array') ?? [];
    return v;
  }

  stringArray(key: string, required = false): string[] | undefined {
    const v = this.obj[key];
    if (v === undefined) return this.missing(key, required);
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '')) return this.wrong(key, 'an array of non-empty strings');
    return v as string[];
  }

  private at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  private missing(key: string, required: boolean): undefined {
    if (required) this.problem(key, 'is required');
    return undefined;
  }

  private wrong(key: string, expected: string): undefined {
    this.problem(key, `must be ${expected}`);
    return undefined;
  }
}

/** `{ [key]: value }`, or `{}` when the value is absent: spread into an object so an unset option is no key at all. */
export function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
