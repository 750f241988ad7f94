/**
 * A small rule kit for the inputs of the workflows. Workflow code validates its own input (it may be started by any
 * client), and every workflow instance evaluates the modules it imports in its own sandbox, so a general-purpose schema
 * library would cost each cached workflow about a megabyte and each new one milliseconds of CPU
 * (docs/performance.md). These rules are plain functions: no Node built-ins, no I/O, no module state.
 *
 * A rule checks one value, records every problem with its path, and returns the value to keep (with its default filled
 * in). Problems read `path: message`, as operators see them in the starter and in `InvalidInput` failures.
 */

export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(readonly problems: string[]) {
    super(`invalid input: ${problems.join('; ')}`);
  }
}

export type Rule<T> = (value: unknown, path: string, problems: string[]) => T;

/** One rule per field of `T`; a field that may be left out has a rule that returns `undefined` for it. */
export type Fields<T> = { [K in keyof T]-?: Rule<T[K]> };

/** Runs `rule` over `input`; throws `InvalidInputError` naming every problem at once. */
export function parseWith<T>(rule: Rule<T>, input: unknown): T {
  const problems: string[] = [];
  const value = rule(input, '', problems);
  if (problems.length > 0) throw new InvalidInputError(problems);
  return value;
}

function report(problems: string[], path: string, message: string): void {
  problems.push(path ? `${path}: ${message}` : message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** Leaves `undefined` alone (or replaces it with `fallback`), otherwise applies `check`. */
function optionalOr<T, D extends T | undefined>(
  fallback: D,
  check: (value: unknown, path: string, problems: string[]) => T,
): Rule<T | D> {
  return (value, path, problems) => (value === undefined ? fallback : check(value, path, problems));
}

interface Bounds {
  min?: number;
  max?: number;
  /** Messages for the bounds; the defaults say "must be at least N" and "must be at most N". */
  tooSmall?: string;
  tooLarge?: string;
}

export function boolean(fallback: boolean): Rule<boolean>;
export function boolean(): Rule<boolean | undefined>;
export function boolean(fallback?: boolean): Rule<boolean | undefined> {
  return optionalOr(fallback, (value, path, problems) => {
    if (typeof value === 'boolean') return value;
    report(problems, path, `expected true or false, got ${describe(value)}`);
    return fallback ?? false;
  });
}

export interface NumberRule extends Bounds {
  /** A whole number; the message when it is not. */
  integer?: true | string;
}

export function number(options: NumberRule & { default: number }): Rule<number>;
export function number(options: NumberRule): Rule<number | undefined>;
export function number(options: NumberRule & { default?: number }): Rule<number | undefined> {
  return optionalOr(options.default, (value, path, problems) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      report(problems, path, `expected a number, got ${typeof value === 'number' ? value : describe(value)}`);
      return options.default ?? 0;
    }
    if (options.integer && !Number.isInteger(value)) {
      report(problems, path, typeof options.integer === 'string' ? options.integer : 'must be a whole number');
    }
    checkBounds(value, options, path, problems);
    return value;
  });
}

function checkBounds(size: number, bounds: Bounds, path: string, problems: string[], unit = ''): void {
  if (bounds.min !== undefined && size < bounds.min) {
    report(problems, path, bounds.tooSmall ?? `must be at least ${bounds.min}${unit}`);
  }
  if (bounds.max !== undefined && size > bounds.max) {
    report(problems, path, bounds.tooLarge ?? `must be at most ${bounds.max}${unit}`);
  }
}

export interface TextRule extends Bounds {
  /** Remove surrounding white space before checking and keeping the text. */
  trim?: true;
  /** A test the text must pass, with the message when it does not. */
  test?: [(text: string) => boolean, string];
}

/** A string; `min`/`max` bound its length. */
export function text(options: TextRule = {}): Rule<string | undefined> {
  return optionalOr(undefined, (value, path, problems) => {
    if (typeof value !== 'string') {
      report(problems, path, `expected text, got ${describe(value)}`);
      return '';
    }
    const kept = options.trim ? value.trim() : value;
    checkBounds(kept.length, options, path, problems, ' characters');
    if (options.test && !options.test[0](kept)) report(problems, path, options.test[1]);
    return kept;
  });
}

/** The same rule, but the value may be left out. */
export function optional<T>(rule: Rule<T>): Rule<T | undefined> {
  return (value, path, problems) => (value === undefined ? undefined : rule(value, path, problems));
}

/** The same rule, but the value must be given. */
export function required<T>(rule: Rule<T | undefined>): Rule<T> {
  return (value, path, problems) => {
    if (value === undefined) {
      report(problems, path, 'is required');
      return undefined as T;
    }
    return rule(value, path, problems) as T;
  };
}

export function oneOf<const V extends string>(values: readonly V[], fallback: V): Rule<V>;
export function oneOf<const V extends string>(values: readonly V[]): Rule<V | undefined>;
export function oneOf<const V extends string>(values: readonly V[], fallback?: V): Rule<V | undefined> {
  return optionalOr(fallback, (value, path, problems) => {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as V;
    report(problems, path, `expected one of ${values.join(', ')}, got ${JSON.stringify(value) ?? 'nothing'}`);
    return fallback ?? values[0]!;
  });
}

/** An array whose items all follow `item`; `min`/`max` bound its length. */
export function list<T>(item: Rule<T>, options: Bounds & { default: T[] }): Rule<T[]>;
export function list<T>(item: Rule<T>, options?: Bounds): Rule<T[] | undefined>;
export function list<T>(item: Rule<T>, options: Bounds & { default?: T[] } = {}): Rule<T[] | undefined> {
  const check: Rule<T[]> = (value, path, problems) => {
    if (!Array.isArray(value)) {
      report(problems, path, `expected a list, got ${describe(value)}`);
      return [];
    }
    const items = (n: number | undefined) => `${n} item${n === 1 ? '' : 's'}`;
    checkBounds(
      value.length,
      {
        ...options,
        tooSmall: options.tooSmall ?? `must hold at least ${items(options.min)}`,
        tooLarge: options.tooLarge ?? `must hold at most ${items(options.max)}`,
      },
      path,
      problems,
    );
    return value.map((entry, index) => item(entry, `${path}.${index}`, problems));
  };
  // A fresh copy of the default each time: parsed inputs never share an array.
  return (value, path, problems) =>
    value === undefined ? options.default && [...options.default] : check(value, path, problems);
}

/**
 * An object with exactly these fields (an unknown one is a problem: it is most likely a misspelt option), then
 * `checks` across fields, which run even when a field is malformed so that one message names every problem.
 */
export function object<T>(
  fields: Fields<T>,
  checks?: (value: T, problem: (field: keyof T & string, message: string) => void) => void,
): Rule<T> {
  return (value, path, problems) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      report(problems, path, `expected an object, got ${describe(value)}`);
      return {} as T;
    }
    const at = (field: string) => (path ? `${path}.${field}` : field);
    const unknown = Object.keys(value).filter((key) => !Object.hasOwn(fields, key));
    if (unknown.length > 0) {
      report(
        problems,
        path,
        `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`,
      );
    }
    const result: Partial<T> = {};
    for (const field of Object.keys(fields) as Array<keyof T & string>) {
      const kept = fields[field]((value as Record<string, unknown>)[field], at(field), problems);
      if (kept !== undefined) result[field] = kept;
    }
    checks?.(result as T, (field, message) => report(problems, at(field), message));
    return result as T;
  };
}
