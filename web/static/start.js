// The start page: create a room, then offer its link to copy and to join.
import { init, setText } from './i18n.js';
import { Notice } from './notice.js';

await init();

const startButton = document.getElementById('start');
const ready = document.getElementById('ready');
const readyHeading = document.getElementById('ready-heading');
const linkField = document.getElementById('link');
const copyButton = document.getElementById('copy');
const copyStatus = document.getElementById('copy-status');
const joinLink = document.getElementById('join-link');
const notice = new Notice();

let busy = false;

startButton.addEventListener('click', async () => {
  if (busy) return;
  busy = true;
  startButton.setAttribute('aria-disabled', 'true');
  notice.info('start.creating');
  try {
    const room = await createRoom();
    showRoom(room);
  } catch (err) {
    console.error('create room:', err);
    notice.error(err.key || 'start.error_create');
  } finally {
    busy = false;
    startButton.removeAttribute('aria-disabled');
  }
});

copyButton.addEventListener('click', async () => {
  const ok = await copy(linkField);
  // Empty the region first so that a second "Copied" is announced again.
  setText(copyStatus, null);
  copyStatus.classList.toggle('copy-failed', !ok);
  requestAnimationFrame(() => setText(copyStatus, ok ? 'start.copied' : 'start.copy_failed'));
});

// Selecting the whole link on focus makes copying by hand one step.
linkField.addEventListener('focus', () => linkField.select());

// createRoom asks the server for a room. Failures carry the catalog key of
// the message to show.
async function createRoom() {
  let res;
  try {
    res = await fetch('/api/v1/rooms', {
      method: 'POST',
      headers: { Accept: 'application/json' },
    });
  } catch (err) {
    throw Object.assign(new Error(`network: ${err.message}`), { key: 'error.server_unreachable' });
  }
  if (!res.ok) {
    const busyStatus = res.status === 429 || res.status === 503;
    throw Object.assign(new Error(`HTTP ${res.status}`), {
      key: busyStatus ? 'error.server_busy' : 'start.error_create',
    });
  }
  const body = await res.json();
  if (!body || typeof body.id !== 'string' || body.id === '') {
    throw new Error('response has no room id');
  }
  return { id: body.id, url: callURL(body) };
}

// callURL trusts the server's url only if it is an http(s) link; otherwise
// it builds the link on this origin.
function callURL(body) {
  try {
    const u = new URL(body.url, location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch {
    // fall through
  }
  return new URL(`/call/${encodeURIComponent(body.id)}`, location.href).href;
}

function showRoom(room) {
  notice.clear();
  linkField.value = room.url;
  joinLink.href = room.url;
  setText(copyStatus, null);
  startButton.hidden = true;
  ready.hidden = false;
  readyHeading.focus();
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
