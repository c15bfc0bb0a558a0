/**
 * An error the user caused and can fix: a bad file, a bad row, a bad flag. The message says what
 * and where. The CLI maps it to exit code 2; the API to a 4xx.
 */
export class UserError extends Error {
  constructor(
    message: string,
    /** Every individual problem, one line each (e.g. `line 7, column size: ...`). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const isUserError = (error: unknown): error is UserError => error instanceof UserError;

/** The thing asked for does not exist (an activation id, a list id): exit 2 on the CLI, 404 on the API. */
export class NotFoundError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The request is understood but the thing is in the wrong state (a list already approved): 409 on the API. */
export class ConflictError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The caller may not do this (e.g. approve a list they generated: four eyes): 403 on the API. */
export class ForbiddenError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}
