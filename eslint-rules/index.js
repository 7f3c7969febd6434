/**
 * The project's own ESLint rules, as a flat-config plugin named `coil`.
 * - `coil/must-use-result`: a neverthrow Result must not be dropped (see must-use-result.js for
 *   why this is not a published plugin).
 */
import mustUseResult from "./must-use-result.js";

/** @type {import("eslint").ESLint.Plugin} */
const plugin = {
  meta: { name: "eslint-plugin-coil", version: "0.1.0" },
  rules: { "must-use-result": mustUseResult },
};

export default plugin;
