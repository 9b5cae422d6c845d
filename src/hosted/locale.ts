/** The languages of the hosted pages (their texts live in web/src/shared/i18n.ts). */
export const LOCALES = ['en', 'pt-BR', 'es'] as const;
export type Locale = (typeof LOCALES)[number];

/**
 * `?locale=` when it names one of ours, else the first Accept-Language range we speak (by quality;
 * "pt" and "pt-PT" read as pt-BR, any "es-*" as es), else English.
 */
export function pickLocale(query: unknown, acceptLanguage: string | undefined): Locale {
  const asked = typeof query === 'string' ? match(query) : undefined;
  if (asked) return asked;
  const ranges = (acceptLanguage ?? '')
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find(Boolean);
      return { tag: tag.trim(), q: q ? Number(q[1]) : 1, i };
    })
    .filter((r) => r.tag && r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const range of ranges) {
    const found = match(range.tag);
    if (found) return found;
  }
  return 'en';
}

function match(tag: string): Locale | undefined {
  const lower = tag.toLowerCase();
  if (lower === 'en' || lower.startsWith('en-')) return 'en';
  if (lower === 'pt' || lower.startsWith('pt-')) return 'pt-BR';
  if (lower === 'es' || lower.startsWith('es-')) return 'es';
  return undefined;
}
