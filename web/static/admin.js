// Administration: staff accounts, API keys and webhooks. Secrets (a new
// API key, a webhook's signing secret) are shown once, right after they
// are made, with a copy button and a plain warning; the server keeps only
// their hashes, so nobody can show them again.
import { init, setText, t, onChange } from './i18n.js';
import { Notice } from './notice.js';
import { get, post, patch, del, staffSession, toLogin, errorKey } from './api.js';
import { timeElement } from './thread.js';

await init();

const $ = (id) => document.getElementById(id);
const notice = new Notice();

const session = await staffSession().catch((err) => {
  notice.error(errorKey(err));
  return undefined;
});
if (session === null) toLogin();
if (!session) throw new Error('not signed in');
const me = session.staff;

$('me-name').textContent = me.name || me.email || '';
const roleKeys = { admin: 'staff.role.admin', agent: 'staff.role.agent', specialist: 'staff.role.specialist' };
setText($('me-role'), roleKeys[me.role] || 'staff.role.agent');
$('sign-out').addEventListener('click', async () => {
  try {
    await post('/logout');
  } catch (err) {
    console.warn('logout:', err);
  }
  location.assign('/login');
});

let staff = [];
let keys = [];
let hooks = [];
let deliveriesFor = null;
let deliveries = [];

if (me.role !== 'admin') {
  $('not-admin').hidden = false;
} else {
  $('admin-link').hidden = false;
  $('admin-body').hidden = false;
  wireStaff();
  wireKeys();
  wireHooks();
  await Promise.all([loadStaff(), loadKeys(), loadHooks()]);
}
onChange(() => {
  renderStaff();
  renderKeys();
  renderHooks();
  renderDeliveries();
});

// list takes the array out of a list response, whatever it is named.
function list(res, name) {
  if (Array.isArray(res)) return res;
  return res[name] || res.items || [];
}

function cell(content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content);
  else if (content !== undefined) td.textContent = content;
  return td;
}

function keyed(tag, key, vars) {
  const e = document.createElement(tag);
  setText(e, key, vars);
  return e;
}

function smallButton(key, vars, onClick, className = 'btn btn-secondary btn-small') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  setText(b, key, vars);
  b.addEventListener('click', onClick);
  return b;
}

// withButton disables a button while its request runs.
async function withButton(button, work) {
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  try {
    await work();
  } catch (err) {
    fail(err);
  } finally {
    button.removeAttribute('aria-disabled');
  }
}

function fail(err) {
  console.error('admin:', err);
  if (err && err.status === 401) return toLogin();
  notice.error(errorKey(err));
}

function done(key, vars) {
  notice.info(key, vars, { timeout: 6000 });
}

// ---- staff ----

function wireStaff() {
  $('staff-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const email = $('staff-email').value.trim();
    const name = $('staff-name').value.trim();
    const password = $('staff-password').value;
    if (!name) return invalid($('staff-name'), 'admin.error_name');
    if (!email || !$('staff-email').checkValidity()) return invalid($('staff-email'), 'admin.error_email');
    if (password.length < 10) return invalid($('staff-password'), 'admin.error_password');
    withButton($('staff-add'), async () => {
      try {
        await post('/staff', { email, name, role: $('staff-role').value, password });
      } catch (err) {
        if (err.code === 'conflict') return invalid($('staff-email'), 'admin.error_email_taken');
        throw err;
      }
      $('staff-form').reset();
      done('admin.staff_added', { name });
      await loadStaff();
    });
  });
}

function invalid(input, key) {
  input.setAttribute('aria-invalid', 'true');
  input.addEventListener('input', () => input.removeAttribute('aria-invalid'), { once: true });
  notice.error(key);
  input.focus();
}

async function loadStaff() {
  try {
    staff = list(await get('/staff'), 'staff');
  } catch (err) {
    fail(err);
  }
  renderStaff();
}

function renderStaff() {
  const rows = staff.map((s) => {
    const tr = document.createElement('tr');
    const name = document.createElement('bdi');
    name.textContent = s.name || '';
    const email = document.createElement('span');
    email.dir = 'ltr';
    email.textContent = s.email || '';
    tr.append(cell(name), cell(email), cell(keyed('span', roleKeys[s.role] || 'staff.role.agent')));
    tr.append(cell(keyed('span', s.disabled ? 'admin.state_disabled' : 'admin.state_active')));
    const actions = cell();
    if (s.id !== me.id) {
      const b = smallButton(s.disabled ? 'admin.enable' : 'admin.disable', { name: s.name }, () =>
        withButton(b, async () => {
          await patch(`/staff/${encodeURIComponent(s.id)}`, { disabled: !s.disabled });
          done(s.disabled ? 'admin.enabled' : 'admin.disabled', { name: s.name });
          await loadStaff();
        }));
      b.setAttribute('aria-label', t(s.disabled ? 'admin.enable_who' : 'admin.disable_who', { name: s.name }));
      actions.append(b);
    }
    tr.append(actions);
    if (s.disabled) tr.classList.add('row-off');
    return tr;
  });
  $('staff-rows').replaceChildren(...rows);
}

// ---- API keys ----

function wireKeys() {
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('key-name').value.trim();
    if (!name) return invalid($('key-name'), 'admin.error_name');
    withButton($('key-create'), async () => {
      const res = await post('/api-keys', { name, role: $('key-role').value });
      $('key-form').reset();
      showOnce('key', res.key);
      await loadKeys();
    });
  });
  wireOnce('key');
}

async function loadKeys() {
  try {
    keys = list(await get('/api-keys'), 'apiKeys');
  } catch (err) {
    fail(err);
  }
  renderKeys();
}

function renderKeys() {
  const live = keys.filter((k) => !k.revoked && !k.revokedAt);
  $('keys-empty').hidden = live.length > 0;
  $('keys-table').hidden = live.length === 0;
  $('key-rows').replaceChildren(...live.map((k) => {
    const tr = document.createElement('tr');
    const name = document.createElement('bdi');
    name.textContent = k.name || '';
    const role = { integration: 'admin.key_role.integration', bot: 'admin.key_role.bot' }[k.role];
    tr.append(cell(name), cell(role ? keyed('span', role) : k.role), cell(timeElement(k.createdAt, '')));
    const b = smallButton('admin.revoke', undefined, () => {
      if (!confirm(t('admin.revoke_confirm', { name: k.name }))) return;
      withButton(b, async () => {
        await del(`/api-keys/${encodeURIComponent(k.id)}`);
        done('admin.revoked', { name: k.name });
        await loadKeys();
      });
    }, 'btn btn-danger btn-small');
    b.setAttribute('aria-label', t('admin.revoke_who', { name: k.name }));
    tr.append(cell(b));
    return tr;
  }));
}

// ---- webhooks ----

function wireHooks() {
  $('hook-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const url = $('hook-url').value.trim();
    const events = [...document.querySelectorAll('#hook-events input:checked')].map((c) => c.value);
    if (!/^https?:\/\/\S+$/i.test(url)) return invalid($('hook-url'), 'admin.error_url');
    if (events.length === 0) {
      notice.error('admin.error_events');
      document.querySelector('#hook-events input').focus();
      return;
    }
    withButton($('hook-create'), async () => {
      let res;
      try {
        res = await post('/webhooks', { url, events });
      } catch (err) {
        if (err.code === 'bad_request') return invalid($('hook-url'), 'admin.error_url');
        throw err;
      }
      $('hook-form').reset();
      showOnce('hook', res.secret);
      await loadHooks();
    });
  });
  wireOnce('hook');
  $('deliveries-refresh').addEventListener('click', () => withButton($('deliveries-refresh'), loadDeliveries));
  $('deliveries-close').addEventListener('click', () => {
    const id = deliveriesFor && deliveriesFor.id;
    deliveriesFor = null;
    $('deliveries').hidden = true;
    const back = id && document.querySelector(`[data-deliveries="${CSS.escape(id)}"]`);
    if (back) back.focus();
  });
}

async function loadHooks() {
  try {
    hooks = list(await get('/webhooks'), 'webhooks');
  } catch (err) {
    fail(err);
  }
  renderHooks();
}

function renderHooks() {
  $('hooks-empty').hidden = hooks.length > 0;
  $('hooks-table').hidden = hooks.length === 0;
  $('hook-rows').replaceChildren(...hooks.map((h) => {
    const tr = document.createElement('tr');
    const url = document.createElement('span');
    url.className = 'url';
    url.dir = 'ltr';
    url.textContent = h.url || '';
    const events = document.createElement('span');
    events.className = 'events';
    events.dir = 'ltr';
    events.textContent = (h.events || []).join(', ');
    tr.append(cell(url), cell(events), cell(timeElement(h.createdAt, '')));
    const actions = cell();
    actions.className = 'actions';
    const show = smallButton('admin.deliveries', undefined, () => openDeliveries(h));
    show.dataset.deliveries = h.id;
    show.setAttribute('aria-label', t('admin.deliveries_for', { url: h.url }));
    const remove = smallButton('admin.delete', undefined, () => {
      if (!confirm(t('admin.delete_confirm', { url: h.url }))) return;
      withButton(remove, async () => {
        await del(`/webhooks/${encodeURIComponent(h.id)}`);
        if (deliveriesFor && deliveriesFor.id === h.id) {
          deliveriesFor = null;
          $('deliveries').hidden = true;
        }
        done('admin.deleted', { url: h.url });
        await loadHooks();
      });
    }, 'btn btn-danger btn-small');
    remove.setAttribute('aria-label', t('admin.delete_who', { url: h.url }));
    actions.append(show, remove);
    tr.append(actions);
    return tr;
  }));
}

async function openDeliveries(h) {
  deliveriesFor = h;
  deliveries = [];
  $('deliveries').hidden = false;
  renderDeliveries();
  $('deliveries-heading').focus();
  try {
    await loadDeliveries();
  } catch (err) {
    fail(err);
  }
}

async function loadDeliveries() {
  if (!deliveriesFor) return;
  const id = deliveriesFor.id;
  const res = await get(`/webhooks/${encodeURIComponent(id)}/deliveries`);
  if (!deliveriesFor || deliveriesFor.id !== id) return;
  deliveries = list(res, 'deliveries');
  renderDeliveries();
}

const DELIVERY_STATES = {
  pending: 'admin.delivery.pending',
  delivered: 'admin.delivery.delivered',
  failed: 'admin.delivery.failed',
};

function renderDeliveries() {
  if (!deliveriesFor) return;
  setText($('deliveries-heading'), 'admin.deliveries_heading', { url: deliveriesFor.url });
  $('deliveries-empty').hidden = deliveries.length > 0;
  $('deliveries-table').hidden = deliveries.length === 0;
  $('delivery-rows').replaceChildren(...deliveries.map((d) => {
    const tr = document.createElement('tr');
    const event = document.createElement('code');
    event.dir = 'ltr';
    event.textContent = d.event || d.type || '';
    const state = DELIVERY_STATES[d.status];
    const status = state ? keyed('span', state) : document.createTextNode(d.status || '');
    if (status.classList) status.className = `delivery-${d.status}`;
    const code = d.lastStatus ?? d.lastHTTPStatus ?? d.lastHttpStatus ?? d.responseStatus;
    const answer = document.createElement('span');
    answer.dir = 'ltr';
    answer.textContent = [code ? String(code) : '', d.lastError || d.error || ''].filter(Boolean).join(' – ');
    const next = d.nextAttempt || d.nextAttemptAt;
    tr.append(
      cell(timeElement(d.createdAt, '')),
      cell(event),
      cell(status),
      cell(String(d.attempts ?? '')),
      cell(answer),
      cell(next && d.status === 'pending' ? timeElement(next, '') : '–'),
    );
    return tr;
  }));
}

// ---- secrets shown once ----

function showOnce(prefix, secret) {
  $(`${prefix}-value`).value = secret || '';
  setText($(`${prefix}-copy-status`), null);
  $(`${prefix}-once`).hidden = false;
  $(`${prefix}-once-heading`).focus();
}

function wireOnce(prefix) {
  const field = $(`${prefix}-value`);
  field.addEventListener('focus', () => field.select());
  $(`${prefix}-copy`).addEventListener('click', async () => {
    const ok = await copy(field);
    const status = $(`${prefix}-copy-status`);
    setText(status, null);
    status.classList.toggle('copy-failed', !ok);
    setTimeout(() => setText(status, ok ? 'admin.copied' : 'admin.copy_failed'), 30);
  });
  $(`${prefix}-done`).addEventListener('click', () => {
    field.value = '';
    $(`${prefix}-once`).hidden = true;
    $(`${prefix}-form`).querySelector('input').focus();
  });
}

async function copy(field) {
  try {
    await navigator.clipboard.writeText(field.value);
    return true;
  } catch {
    // The Clipboard API needs a secure context; try the old way.
  }
  field.focus();
  field.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}
