import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateIf } from 'class-validator';
import { ValidationFailedError } from './errors/domain-errors';

/** `items[0].quantity`: the path of the first failing field, in the shape API.md asks for. */
function firstFailure(errors: ValidationError[], parent = ''): { param: string; message: string } | undefined {
  for (const error of errors) {
    const segment = /^\d+$/.test(error.property) ? `[${error.property}]` : parent ? `.${error.property}` : error.property;
    const path = parent + segment;
    if (error.constraints) {
      const message = Object.values(error.constraints)[0].replace(error.property, path);
      return { param: path, message };
    }
    const nested = firstFailure(error.children ?? [], path);
    if (nested) return nested;
  }
  return undefined;
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) => {
      const failure = firstFailure(errors) ?? { param: undefined, message: 'Invalid request' };
      const code = failure.message.includes('should not exist') ? 'parameter_unknown' : 'parameter_invalid';
      return new ValidationFailedError(failure.message, failure.param, code);
    },
  });
}

/**
 * Optional in the sense "may be absent", not "may be null": class-validator's @IsOptional skips every
 * check for `null` too, so `{"amount": null}` slipped past @IsInt and reached the services. Number and
 * object fields use this instead; a field where null means something (clearing a coupon's limit) keeps
 * @IsOptional and says so.
 */
export const IsOptionalNotNull = () => ValidateIf((_object: object, value: unknown) => value !== undefined);
