/**
 * The two kinds of failure a user can meet on the command line. A `UsageError` (exit code 2) means
 * the command was written wrong: unknown flag, bad value. Any other `Error` is a runtime failure
 * (exit code 1): a missing or corrupt file, an unwritable folder. Both print as one line.
 */
export class UsageError extends Error {
  override name = "UsageError";
}
