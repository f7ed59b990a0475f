import type { ICstVisitor } from 'chevrotain';
import type { ICstNodeVisitor } from './cst.js';

/**
 * The name of a rule of the grammar, from the types generated into cst.ts. Chevrotain hands
 * rule names around as strings; typed as this, a comparison with a rule that no longer exists
 * fails to type-check.
 */
export type RuleName = Exclude<keyof ICstNodeVisitor<unknown, unknown>, keyof ICstVisitor<unknown, unknown>>;
