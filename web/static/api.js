// The REST API of docs/api.md, for the chat and staff pages.
//
// request() returns the decoded JSON body, or throws an ApiError whose
// status and code say what went wrong: code is the server's error code
// ("unauthorized", "conflict", …), or "network" when the server could not
// be reached at all. Pages map codes to catalog keys; they never show the
// server's English message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `${status} ${code}`);
    this.status = status;
    this.code = code;
  }
}

// Credentials a request carries: a bearer token (customer or API key) or
// the staff session cookie plus its CSRF token. The cookie is sent by the
// browser itself (same origin).
const auth = { csrf: '', token: '' };

// setCSRF remembers the token from /me or /login; every request that
// changes something sends it back in X-CSRF-Token.
export function setCSRF(token) {
  auth.csrf = token || '';
}

// setToken sets the customer token sent as Authorization: Bearer.
export function setToken(token) {
  auth.token = token || '';
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  if (auth.csrf && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = auth.csrf;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, 'network', err.message);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || codeFor(res.status), e.message);
  }
  return data || {};
}

function codeFor(status) {
  switch (status) {
    case 400: return 'bad_request';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 409: return 'conflict';
    case 413: return 'too_large';
    default: return 'internal';
  }
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);
export const put = (path, body = {}) => request('PUT', path, body);
export const patch = (path, body = {}) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

// staffSession asks who is signed in. It resolves to the /me body, or to
// null when nobody is (401); other failures throw.
export async function staffSession() {
  try {
    const me = await get('/me');
    setCSRF(me.csrfToken);
    return me;
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

// toLogin sends a person who is not signed in to the sign-in page, and
// back here afterwards.
export function toLogin() {
  const next = location.pathname + location.search;
  location.replace(`/login?next=${encodeURIComponent(next)}`);
}

// errorKey maps an ApiError to the catalog key of a message for people.
export function errorKey(err) {
  if (!(err instanceof ApiError)) return 'common.error_generic';
  switch (err.code) {
    case 'network': return 'common.error_network';
    case 'forbidden': return 'common.error_forbidden';
    case 'csrf': return 'common.error_session';
    case 'unauthorized': return 'common.error_session';
    case 'too_large': return 'common.error_too_large';
    default: return 'common.error_generic';
  }
}

// newClientId makes the id that lets a resent message be stored once.
export function newClientId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}
