/**
 * Deterministic, dependency-free stand-ins for what a model would read out of a document. Every
 * function here is linear in the text's length, whatever it holds (services/llm-simulator's
 * pathological-body tests run each on 100,000 characters of one letter, CJK, emoji, random code
 * points, base64 and regex-hostile runs such as 'a.a.a.…'): no pattern can restart a long scan at
 * every position.
 */

const STOPWORDS = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being below between both but by can ' +
    'could did do does doing down during each few for from further had has have having he her here hers herself him himself his how i ' +
    'if in into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out over ' +
    'own same she should so some such than that the their theirs them themselves then there these they this those through to too under ' +
    'until up very was we were what when where which while who whom why will with would you your yours yourself yourselves one two ' +
    'may might must shall us many much new like get got make made use used using via per etc yet still even ever every within without ' +
    'title le la les de des du et un une est der die das und ist el los las y en'
  ).split(' '),
);

const MONTHS = 'January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec';
const DATE = new RegExp(
  `\\b\\d{4}-\\d{2}-\\d{2}(?:T[\\d:.]+Z?)?\\b|\\b\\d{1,2} (?:${MONTHS})\\.? \\d{4}\\b|\\b(?:${MONTHS})\\.? \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}\\b`,
  'g',
);
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'()[\]]+[^\s<>"'()[\].,;:!?]/g;
// An address starts where its run of [\w.+-] starts (the lookbehind), at its first word character
// (group 1, as `\b` placed it). With `\b[\w.+-]+@` instead, a run such as 'a.a.a.…' with no '@'
// was rescanned from every word boundary in it: quadratic.
const EMAIL = /(?<![\w.+-])[.+-]*(\w[\w.+-]*@[\w-]+(?:\.[\w-]+)+\b)/g;
const NUMBER = /(?<![\w.-])[-+]?\$?\d+(?:[.,]\d+)*(?:\s?(?:%|percent|kg|km|ms|GB|MB|TB|USD|EUR|million|billion|thousand))?(?![\w])/g;
// Words of a name are joined by one space ("Bank of England"), never by a line break or a gap.
const ENTITY = /\b\p{Lu}[\p{L}\p{N}&-]*(?: (?:(?:of|de|the|and|&) )?\p{Lu}[\p{L}\p{N}&-]*)*/gu;

/** Sentences of `text`, whitespace collapsed. */
export function sentences(text: string): string[] {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (!flat) return [];
  return flat.split(/(?<=[.!?…])\s+(?=\S)/u).filter((s) => s.length > 0);
}

/** The first sentences, at most `maxSentences` and `maxWords` words (the last one cut at a word). */
export function leadSentences(text: string, maxSentences: number, maxWords: number): string {
  const out: string[] = [];
  let words = 0;
  for (const sentence of sentences(text).slice(0, maxSentences)) {
    const w = sentence.split(' ');
    if (words + w.length > maxWords) {
      if (out.length === 0) out.push(`${w.slice(0, maxWords).join(' ')}…`);
      break;
    }
    out.push(sentence);
    words += w.length;
  }
  return out.join(' ');
}

/** A longer "word" (a run such as 'aaaa…', or CJK text, which has no spaces) is no keyword. */
const MAX_KEYWORD_CHARS = 32;

/** Lower-case words of 3 to 32 letters that are not stopwords or numbers, in order of appearance. */
function keywordCandidates(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}][\p{L}\p{N}'-]*[\p{L}\p{N}]/gu) ?? [])
    .map((w) => w.replace(/'s$/, ''))
    .filter((w) => w.length >= 3 && w.length <= MAX_KEYWORD_CHARS && !STOPWORDS.has(w));
}

/** Every address in `text`, as written. */
function emails(text: string): string[] {
  return [...text.matchAll(EMAIL)].map((m) => m[1]);
}

/** The `limit` most frequent keywords; ties go to the earlier word. Title words count double. */
export function keywords(content: string, title: string | undefined, limit: number): string[] {
  // Hosts and mailboxes are not topics.
  content = content.replace(URL_PATTERN, ' ').replace(EMAIL, ' ');
  const counts = new Map<string, { n: number; first: number }>();
  let position = 0;
  const add = (word: string, weight: number) => {
    const entry = counts.get(word);
    if (entry) entry.n += weight;
    else counts.set(word, { n: weight, first: position++ });
  };
  for (const word of keywordCandidates(title ?? '')) add(word, 2);
  for (const word of keywordCandidates(content)) add(word, 1);
  return [...counts.entries()]
    .sort(([, a], [, b]) => b.n - a.n || a.first - b.first)
    .slice(0, limit)
    .map(([word]) => word);
}

/**
 * The first `limit` distinct values, trimmed, of at most `maxChars` each: a longer match (a name of
 * 100,000 capitals, a number of 100,000 digits) is not a fact, and would not fit an answer anyway.
 */
function unique(values: Iterable<string>, limit: number, maxChars: number): string[] {
  const out = new Set<string>();
  for (const value of values) {
    const v = value.trim();
    if (v && v.length <= maxChars) out.add(v);
    if (out.size === limit) break;
  }
  return [...out];
}

/** The longest fact of each kind an answer reports (an email is at most 254 characters). */
const MAX_FACT_CHARS = { entity: 80, date: 40, number: 40, url: 512, email: 254 };

const MONTH_ONLY = new RegExp(`^(?:${MONTHS})$`);

/**
 * Capitalised names. A lone capitalised word that opens a sentence ("Details", "Yesterday") is a
 * name only if it has more capitals ("OpenAI", "GPT-4o") or also appears capitalised mid-sentence.
 */
function entityCandidates(text: string): string[] {
  const matches = [...text.matchAll(ENTITY)].map((m) => {
    const before = text.slice(Math.max(0, m.index - 3), m.index);
    return { name: m[0].trim().replace(/^(?:The|A|An) (?=\p{Lu})/u, ''), sentenceStart: m.index === 0 || /(?:[.!?:]\s*|\n\s*|^\s*)$/.test(before) };
  });
  const midSentence = new Set(matches.filter((m) => !m.sentenceStart).map((m) => m.name));
  return matches
    .filter(({ name, sentenceStart }) => {
      if (STOPWORDS.has(name.toLowerCase()) || MONTH_ONLY.test(name)) return false;
      const single = !/\s/.test(name);
      return !sentenceStart || !single || /.\p{Lu}|\p{N}/u.test(name) || midSentence.has(name);
    })
    .map((m) => m.name);
}

export interface Facts {
  entities: string[];
  dates: string[];
  numbers: string[];
  urls: string[];
  emails: string[];
}

/** Pattern-based facts: capitalised names, dates, numbers with units, urls, emails. */
export function extractFacts(text: string, limit = 20): Facts {
  const urls = unique(text.match(URL_PATTERN) ?? [], limit, MAX_FACT_CHARS.url);
  const mailboxes = unique(emails(text), limit, MAX_FACT_CHARS.email);
  const dates = unique(text.match(DATE) ?? [], limit, MAX_FACT_CHARS.date);
  // Numbers inside urls, emails and dates are already reported as part of them.
  const rest = [...urls, ...mailboxes, ...dates].reduce((t, found) => t.split(found).join(' ; '), text);
  const numbers = unique(rest.match(NUMBER) ?? [], limit, MAX_FACT_CHARS.number);
  const entities = unique(entityCandidates(rest), limit, MAX_FACT_CHARS.entity);
  return { entities, dates, numbers, urls, emails: mailboxes };
}
