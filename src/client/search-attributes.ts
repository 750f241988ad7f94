/**
 * The search attributes `list`, rollouts and the Temporal UI find updates by. A namespace without them lets single
 * updates run and then fails rollouts and `list --catalog` opaquely, so the worker and the CLI check for them up front
 * and name the one command that registers them.
 */
import { SearchAttributes } from '../shared/rollout';

const NAMES = Object.keys(SearchAttributes);

/** The command that registers every missing attribute on `namespace`, for a Temporal CLI user. */
export function registerCommand(namespace: string, names: string[] = NAMES): string {
  return (
    `for name in ${names.join(' ')}; do temporal operator search-attribute create --namespace ${namespace} ` +
    `--name $name --type Keyword; done`
  );
}

export class SearchAttributesMissingError extends Error {
  override name = 'SearchAttributesMissingError';
  constructor(
    readonly namespace: string,
    readonly missing: string[] = NAMES,
    cause?: unknown,
  ) {
    super(
      `the Temporal namespace ${namespace} has no search attribute ${missing.join(', ')}: register ` +
        `${missing.length === 1 ? 'it' : 'them'} once with: ${registerCommand(namespace, missing)}`,
      { cause },
    );
  }
}

/** The server's answer, somewhere in the error's causes, that a search attribute is not registered. */
export function isMissingSearchAttribute(error: unknown): boolean {
  for (let cause = error as Error | undefined, depth = 0; cause && depth < 20; depth++) {
    if (/no mapping defined for search attribute|search attribute \S+ is not defined/i.test(String(cause.message))) {
      return true;
    }
    cause = cause.cause as Error | undefined;
  }
  return false;
}

/** The part of Temporal's operator service this needs: a client's and a worker's connection both have it. */
interface OperatorService {
  listSearchAttributes(request: { namespace: string }): Promise<{ customAttributes?: Record<string, unknown> | null }>;
}

/**
 * The project's search attributes that `namespace` lacks, or `undefined` when the server does not say (a hosted
 * namespace may not grant the operator API to this identity: then the first start that needs them says so instead).
 */
export async function missingSearchAttributes(
  operatorService: OperatorService,
  namespace: string,
): Promise<string[] | undefined> {
  try {
    const { customAttributes } = await operatorService.listSearchAttributes({ namespace });
    return NAMES.filter((name) => !customAttributes?.[name]);
  } catch {
    return undefined;
  }
}
