import { RE2JS } from 're2js';

/**
 * Catalog and image name patterns are regular expressions matched case-insensitively by RE2 (re2js), whose matching
 * time grows linearly with the name, whatever the pattern: `^(a+)+@$` cannot stall a worker as it stalls a
 * backtracking engine. RE2 has no look-around and no back-references; such a pattern is refused with a message.
 */
export function compileNamePattern(pattern: string): (name: string) => boolean {
  const compiled = RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE);
  return (name) => compiled.matcher(name).find();
}

/** Why `pattern` cannot be used as a name pattern, or `undefined` when it can. */
export function namePatternProblem(pattern: string): string | undefined {
  try {
    compileNamePattern(pattern);
    return undefined;
  } catch (error) {
    return `"${pattern}" is not a pattern this tool can match (${(error as Error).message}); patterns are regular expressions without look-around or back-references`;
  }
}
