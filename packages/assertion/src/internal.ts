/**
 * `@x/assertion/internal`: helpers shared with `@x/token` and `@x/cli`, not
 * for applications; they may change in any release.
 *
 * @packageDocumentation
 */
export { lazySchema, parseOptions } from './credential/options.js';
export { shownPath } from './credential/input.js';
