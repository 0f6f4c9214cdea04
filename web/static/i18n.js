// Message catalogs and the choice of language, shared by every page.
//
// The HTML holds catalog keys, never words: data-i18n fills an element's
// text, data-i18n-aria-label and data-i18n-placeholder fill those
// attributes, and data-i18n-args (a JSON object) fills {name} style
// placeholders. Because the keys stay on the elements, switching language
// re-renders the whole page in place, even in the middle of a call.

// Each language is shown in its own script in the switcher, so that a
// person who cannot read the current language still finds theirs.
export const LANGUAGES = [
  { code: 'en', name: 'English', dir: 'ltr' },
  { code: 'zh-Hans', name: '简体中文', dir: 'ltr' },
  { code: 'zh-Hant', name: '繁體中文', dir: 'ltr' },
  { code: 'ar', name: 'العربية', dir: 'rtl' },
];

const STORE_KEY = 'videosupport.lang';
const FALLBACK = 'en';

let messages = {};
let current = FALLBACK;
const listeners = new Set();

// pickLanguage maps the browser's preferred languages (navigator.languages)
// to one we ship: the first one we support wins, and English is the default.
export function pickLanguage(preferred) {
  for (const tag of preferred || []) {
    const code = matchTag(String(tag));
    if (code) return code;
  }
  return FALLBACK;
}

function matchTag(tag) {
  let language = tag.toLowerCase().split(/[-_]/)[0];
  let script = '';
  let region = '';
  try {
    // maximize() fills in the likely script: zh-TW -> zh-Hant-TW.
    const loc = new Intl.Locale(tag.replace(/_/g, '-')).maximize();
    language = loc.language;
    script = loc.script || '';
    region = loc.region || '';
  } catch {
    // Not a well-formed tag: fall back to its first subtag.
  }
  if (language === 'zh') {
    const traditional = script === 'Hant' || ['TW', 'HK', 'MO'].includes(region);
    return traditional ? 'zh-Hant' : 'zh-Hans';
  }
  if (language === 'ar') return 'ar';
  if (language === 'en') return 'en';
  return '';
}

// t returns the message for key with {placeholders} filled from vars. Each
// value is wrapped in Unicode isolates so a Latin name inside Arabic text
// (or the reverse) does not reorder the sentence around it.
export function t(key, vars = {}) {
  const text = messages[key];
  if (text === undefined) {
    console.warn(`i18n: no message for ${key} in ${current}`);
    return '';
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? `\u2068${vars[name]}\u2069` : whole);
}

// has reports whether the catalog has a message for key.
export function has(key) {
  return Object.hasOwn(messages, key);
}

// setText puts a message in el and remembers its key, so a later language
// switch translates it again. A null key empties the element.
export function setText(el, key, vars) {
  if (!key) {
    delete el.dataset.i18n;
    delete el.dataset.i18nArgs;
    el.textContent = '';
    return;
  }
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nArgs = JSON.stringify(vars);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, vars);
}

// apply translates root and everything below it that carries data-i18n*.
export function apply(root = document) {
  const each = (selector, fn) => {
    if (root.matches && root.matches(selector)) fn(root);
    for (const el of root.querySelectorAll(selector)) fn(el);
  };
  each('[data-i18n]', (el) => { el.textContent = t(el.dataset.i18n, args(el)); });
  each('[data-i18n-aria-label]', (el) => {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel, args(el)));
  });
  each('[data-i18n-placeholder]', (el) => {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder, args(el)));
  });
}

function args(el) {
  if (!el.dataset.i18nArgs) return undefined;
  try {
    return JSON.parse(el.dataset.i18nArgs);
  } catch {
    return undefined;
  }
}

// language returns the code of the language in use.
export function language() {
  return current;
}

// onChange calls fn after every language switch, for text that is not
// held in data-i18n attributes.
export function onChange(fn) {
  listeners.add(fn);
}

async function load(code) {
  const url = new URL(`./i18n/${code}.json`, import.meta.url);
  const res = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`catalog ${code}: HTTP ${res.status}`);
  return res.json();
}

// setLanguage loads a catalog and re-renders the page in it.
export async function setLanguage(code, { remember = false } = {}) {
  const lang = LANGUAGES.find((l) => l.code === code) || LANGUAGES[0];
  try {
    messages = await load(lang.code);
    current = lang.code;
  } catch (err) {
    console.error('i18n:', err);
    if (lang.code === FALLBACK) return;
    return setLanguage(FALLBACK);
  }
  if (remember) store(current);
  const html = document.documentElement;
  html.lang = current;
  html.dir = lang.dir;
  apply(document);
  const select = document.getElementById('lang');
  if (select) select.value = current;
  for (const fn of listeners) fn(current);
}

function stored() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage disabled (private mode, policy)
  }
}

function store(code) {
  try {
    localStorage.setItem(STORE_KEY, code);
  } catch {
    // Not remembered; the choice still holds for this page.
  }
}

function buildSwitcher() {
  const select = document.getElementById('lang');
  if (!select) return;
  select.replaceChildren(...LANGUAGES.map((l) => {
    const opt = document.createElement('option');
    opt.value = l.code;
    opt.lang = l.code;
    opt.dir = l.dir;
    opt.textContent = l.name;
    return opt;
  }));
  select.addEventListener('change', () => setLanguage(select.value, { remember: true }));
}

// init picks the language (a remembered manual choice first, then the
// browser's preferences), translates the page and reveals it.
// A ?lang= in the address (the chat widget passes the embedding page's
// language to its frame) comes before both, and is not remembered.
export async function init() {
  buildSwitcher();
  const asked = matchTag(new URLSearchParams(location.search).get('lang') || '');
  const saved = stored();
  let code = asked;
  if (!code) {
    const known = LANGUAGES.some((l) => l.code === saved);
    code = known ? saved : pickLanguage(navigator.languages || [navigator.language]);
  }
  await setLanguage(code);
  document.documentElement.classList.add('i18n-ready');
}
