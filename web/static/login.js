// Staff sign-in. On success the page goes to ?next= when that is a path on
// this site, else to the console. A wrong email or password gets one
// message that does not say which of the two was wrong.
import { init } from './i18n.js';
import { Notice } from './notice.js';
import { post, staffSession } from './api.js';

await init();

const form = document.getElementById('login-form');
const email = document.getElementById('email');
const password = document.getElementById('password');
const button = document.getElementById('sign-in');
const notice = new Notice();
let busy = false;

// Someone already signed in goes straight on.
staffSession().then((me) => {
  if (me) location.replace(nextPage());
}).catch(() => {});

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (busy) return;
  if (!email.value.trim() || !password.value) {
    notice.error('login.error_empty');
    (email.value.trim() ? password : email).focus();
    return;
  }
  busy = true;
  button.setAttribute('aria-disabled', 'true');
  notice.info('login.signing_in');
  try {
    await post('/login', { email: email.value.trim(), password: password.value });
    location.assign(nextPage());
  } catch (err) {
    const key = {
      unauthorized: 'login.error_wrong',
      network: 'common.error_network',
      forbidden: 'login.error_disabled',
    }[err.code] || 'common.error_generic';
    notice.error(key);
    password.value = '';
    password.focus();
    if (key === 'login.error_wrong') password.setAttribute('aria-invalid', 'true');
  } finally {
    busy = false;
    button.removeAttribute('aria-disabled');
  }
});

password.addEventListener('input', () => password.removeAttribute('aria-invalid'));

// nextPage accepts only a path on this site: "/admin", not "//evil.example"
// nor "https://…" nor "/\evil.example" (which browsers treat as "//").
function nextPage() {
  const next = new URLSearchParams(location.search).get('next') || '';
  if (/^\/(?![/\\])[^\s]*$/.test(next)) {
    const u = new URL(next, location.origin);
    if (u.origin === location.origin) return u.pathname + u.search + u.hash;
  }
  return '/console';
}
