import { DomainError } from '../../../common/errors/domain-errors';

/** SIMULATOR_WEBHOOK_SECRET's built-in default: published in the source, so it signs nothing in production. */
export const DEV_SIMULATOR_SECRET = 'whsec_simulator_dev';

/**
 * Whether the simulator must refuse to serve its webhook route and pages: with the published secret
 * anyone can sign its events, which is acceptable only on a developer's machine or in tests.
 */
export function simulatorSecretRefused(nodeEnv: string, secret: string): boolean {
  return secret === DEV_SIMULATOR_SECRET && nodeEnv !== 'development' && nodeEnv !== 'test';
}

export class SimulatorInsecureSecretError extends DomainError {
  constructor() {
    super(
      'service_unavailable',
      'simulator_insecure_secret',
      'The simulator is disabled: SIMULATOR_WEBHOOK_SECRET is the built-in development secret (set your own, or NODE_ENV=development).',
    );
  }
}
