import ret, { types, type Token, type Tokens } from 'ret';
import { InvalidOptionError } from '../errors.js';

/** The default `allowed-projects`: every project. */
export const ALLOW_ALL_PROJECTS = '.*';
/** Longest `allowed-projects` pattern accepted. */
export const MAX_PATTERN_LENGTH = 1024;
/**
 * Longest project name tested against the pattern; longer names are denied untested.
 * With at most {@link MAX_VARIABLE_REPETITIONS} variable quantifiers and no nested ones, a
 * backtracking match costs O(n³): about 5 ms at 256 characters in V8 for the worst pattern
 * (`.*.*.*x`), microseconds for real ones. GitLab's own paths rarely exceed 100 characters.
 */
export const MAX_PROJECT_LENGTH = 256;
/** Most variable-length quantifiers (`*`, `+`, `?`, `{m,n}`) a pattern may hold. */
export const MAX_VARIABLE_REPETITIONS = 3;

/** A compiled `allowed-projects` pattern. */
export interface AllowedProjects {
  /** The pattern as given. */
  readonly source: string;
  /** True for the default `.*`: nothing is restricted. */
  readonly matchesAll: boolean;
  /** Whether the canonical `group/repository` is allowed (whole match, case-insensitive). */
  test(project: string): boolean;
}

// The ret package exports its tokenizer as the CommonJS module itself.
const tokenize = ret as unknown as (source: string) => Tokens;

interface Walk {
  variable: number;
  problem?: string;
}

function walk(token: Tokens | Token, state: Walk, insideRepetition: boolean): void {
  if (state.problem !== undefined) return;
  switch (token.type) {
    case types.REFERENCE:
      state.problem = 'back-references are not allowed';
      return;
    case types.REPETITION: {
      if (token.max !== token.min) state.variable++;
      if (insideRepetition && token.max !== token.min) {
        state.problem = 'nested quantifiers (such as (a+)+) are not allowed';
        return;
      }
      walk(token.value, state, insideRepetition || token.max !== token.min);
      return;
    }
    case types.ROOT:
    case types.GROUP: {
      if (token.type === types.GROUP && (token.followedBy || token.notFollowedBy || token.lookBehind)) {
        state.problem = 'lookaround assertions are not allowed';
        return;
      }
      if (token.options !== undefined) {
        // Alternatives under a quantifier, such as (a|ab)*, can overlap and backtrack
        // exponentially even without nesting.
        if (insideRepetition) {
          state.problem = 'alternation (|) inside a repeated group is not allowed';
          return;
        }
        for (const option of token.options) for (const t of option) walk(t, state, insideRepetition);
      }
      if (token.stack !== undefined) for (const t of token.stack) walk(t, state, insideRepetition);
      return;
    }
    default:
      return;
  }
}

/**
 * Validates and compiles `allowed-projects`: a regular-expression source that must match a
 * project's whole canonical `group/repository`, case-insensitively. To bound matching cost the
 * pattern may not use back-references, lookarounds, nested quantifiers, alternation inside a
 * quantified group, or more than {@link MAX_VARIABLE_REPETITIONS} variable quantifiers, and
 * names longer than {@link MAX_PROJECT_LENGTH} never match.
 *
 * @throws InvalidOptionError (option `allowed-projects`) when the pattern is empty, too long,
 *   not a valid regular expression or not provably cheap.
 */
export function compileAllowedProjects(source: string = ALLOW_ALL_PROJECTS): AllowedProjects {
  const fail = (why: string, cause?: unknown): never => {
    throw new InvalidOptionError(
      'allowed-projects',
      `allowed-projects must be a regular expression matching whole "group/repository" names (default ".*"): ${why}`,
      cause === undefined ? undefined : { cause },
    );
  };
  if (typeof source !== 'string') fail(`expected a string, got ${typeof source}`);
  if (source.trim() === '') fail('it is empty');
  if (source.length > MAX_PATTERN_LENGTH) fail(`it is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (source === ALLOW_ALL_PROJECTS) {
    return Object.freeze({ source, matchesAll: true, test: (): boolean => true });
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source})$`, 'i');
  } catch (error) {
    return fail(`"${source}" is not a valid regular expression (${(error as Error).message})`, error);
  }
  let tree: Tokens;
  try {
    tree = tokenize(source);
  } catch (error) {
    return fail(`"${source}" could not be analysed (${(error as Error).message})`, error);
  }
  const state: Walk = { variable: 0 };
  walk(tree, state, false);
  if (state.problem !== undefined) fail(`"${source}" could backtrack expensively: ${state.problem}`);
  if (state.variable > MAX_VARIABLE_REPETITIONS) {
    fail(`"${source}" has ${state.variable} variable quantifiers; at most ${MAX_VARIABLE_REPETITIONS} are allowed`);
  }
  return Object.freeze({
    source,
    matchesAll: false,
    test: (project: string): boolean => project.length <= MAX_PROJECT_LENGTH && regex.test(project),
  });
}
