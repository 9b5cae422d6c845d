/**
 * The simulator's fee terms (SIMULATOR_FEE_PERCENT, SIMULATOR_FEE_FIXED), in integers only: the
 * percentage is read as basis points from its text, and the percentage part of a fee is rounded half
 * up to a minor unit: fee = fixed + floor((amount × bps + 5000) / 10000), at most the amount.
 */
import type { SimulatorSettlementTerms } from './simulator.repository';

export interface SimulatorFeeTerms {
  basisPoints: number;
  fixed: number;
}

/** "2.9" → 290 basis points, "3" → 300, "0.25" → 25 (the text is validated by env.ts). */
export function basisPointsOf(percent: string): number {
  const [whole, fraction = ''] = percent.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

export function simulatorFee(amount: number, terms: SimulatorFeeTerms): number {
  const percentPart = Math.floor((amount * terms.basisPoints + 5000) / 10000);
  return Math.min(amount, terms.fixed + percentPart);
}

/** A new charge's settlement terms under the configured fee and availability delay. */
export function settlementTerms(config: {
  percent: string;
  fixed: number;
  availabilityDays: number;
}): (amount: number) => SimulatorSettlementTerms {
  const terms = { basisPoints: basisPointsOf(config.percent), fixed: config.fixed };
  return (amount) => ({ fee: simulatorFee(amount, terms), availableAfterDays: config.availabilityDays });
}
