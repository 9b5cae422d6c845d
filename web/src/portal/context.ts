import { RequestFailed } from '../shared/api';
import { pageLocale, t } from '../shared/i18n';

/** The portal token in this page's path (the capability) and the JSON routes' base under it. */
export const token = decodeURIComponent(location.pathname.split('/')[2] ?? '');
export const base = `/portal/${encodeURIComponent(token)}`;
export const locale = pageLocale();

/** An API refusal shows the API's own message (the API decides; the page shows its answer). */
export function describe(err: unknown): string {
  return err instanceof RequestFailed ? err.error.message : t(locale, 'error', { message: String(err) });
}

export function formatDate(iso: string | null): string {
  return iso ? new Intl.DateTimeFormat(locale, { dateStyle: 'long' }).format(new Date(iso)) : '';
}

/** What a section's last action said: a confirmation (status) or a refusal (alert). */
export interface Outcome {
  text: string;
  error: boolean;
}
export const NO_OUTCOME: Outcome = { text: '', error: false };
