// The console's "Recordings" section: the recordings of the open
// conversation (docs/api.md, "Recordings"), each with its date, length,
// people, size, status and an "interrupted" mark; while its file is being
// built, a progress bar, polled every 2 s; once ready, Play (the player
// streams it with range requests) and Download. Each Play and Download is
// an audit event in the record, so a grant is asked for each press.
//
// The console gives it the conversation it opens (open) and the events
// of its record (event): a recording.* event refreshes the list.
//
// Note for the timeline (thread.js / callevents.js): recording.* events
// (started, consent, stopped, ready, played, downloaded, deleted, failed)
// have no line there yet; thread.js has no generic hook for event types
// it does not know, so none was added from here.
import { setText, t, language, onChange } from './i18n.js';
import { get, post, ApiError } from './api.js';
import { loadStyles } from './recordingui.js';

const POLL_MS = 2000;

const STATUS_KEYS = {
  recording: 'recording.status_recording',
  processing: 'recording.status_processing',
  ready: 'recording.status_ready',
  failed: 'recording.status_failed',
  deleted: 'recording.status_deleted',
};

export class RecordingList {
  // before is the element the section goes in front of (the timeline).
  constructor(before) {
    loadStyles();
    this.id = '';
    this.items = []; // recordings of the open conversation, newest first
    this.expanded = true;
    this.timers = new Map(); // recording id -> poll timer
    this.playing = '';
    this.reloadTimer = 0;
    this.build(before);
    onChange(() => this.render());
    window.videosupportRecordings = this; // tests and screenshots read it
  }

  build(before) {
    const section = el('section', 'recordings');
    section.id = 'recordings';
    section.setAttribute('aria-labelledby', 'recordings-heading');
    section.hidden = true;
    const h = el('h3', 'rec-heading');
    h.id = 'recordings-heading';
    const toggle = el('button', 'rec-expand');
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', 'true');
    toggle.setAttribute('aria-controls', 'recordings-list');
    const label = el('span');
    setText(label, 'recording.heading');
    const count = el('span', 'count');
    toggle.append(el('span', 'rec-chevron'), label, count);
    toggle.lastChild.previousSibling.before(' ');
    toggle.firstChild.setAttribute('aria-hidden', 'true');
    h.append(toggle);
    toggle.addEventListener('click', () => {
      this.expanded = !this.expanded;
      this.render();
    });
    const list = el('ol', 'rec-list');
    list.id = 'recordings-list';
    section.append(h, list);
    before.before(section);

    // One player, moved under the recording it plays.
    const player = el('div', 'rec-player');
    const video = el('video');
    video.controls = true;
    video.preload = 'metadata';
    video.playsInline = true;
    video.id = 'recording-video';
    const close = el('button', 'btn btn-secondary btn-small rec-close');
    close.type = 'button';
    setText(close, 'recording.close_player');
    close.addEventListener('click', () => this.stopPlaying(true));
    player.append(video, close);
    this.ui = { section, toggle, count, list, player, video };
  }

  // open follows the conversation the console shows ('' for none).
  open(id) {
    if (id === this.id) return;
    this.stopPlaying(false);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.id = id;
    this.items = [];
    this.render();
    if (id) this.load();
  }

  // event takes an event of the open conversation's record.
  event(ev) {
    if (!this.id || !ev || typeof ev.type !== 'string' || !ev.type.startsWith('recording.')) return;
    if (ev.type === 'recording.consent' || ev.type === 'recording.played' || ev.type === 'recording.downloaded') return;
    // A timeline read at opening holds many: reload once after them.
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.load(), 300);
  }

  async load() {
    const id = this.id;
    let res;
    try {
      res = await get(`/conversations/${encodeURIComponent(id)}/recordings`);
    } catch (err) {
      // Staff without access, or the server away: the section stays as it is.
      console.warn('recordings:', err);
      return;
    }
    if (id !== this.id) return;
    this.items = (res.recordings || []).slice().sort((a, b) => Date.parse(b.startedAt || 0) - Date.parse(a.startedAt || 0));
    for (const r of this.items) this.follow(r);
    this.render();
  }

  // follow polls a recording whose file is still being made.
  follow(r) {
    if (r.status !== 'recording' && r.status !== 'processing') return;
    if (this.timers.has(r.id)) return;
    const id = this.id;
    this.timers.set(r.id, setTimeout(async () => {
      this.timers.delete(r.id);
      let fresh;
      try {
        fresh = await get(`/recordings/${encodeURIComponent(r.id)}`);
      } catch (err) {
        console.warn('recording:', err);
        fresh = r;
      }
      if (id !== this.id) return;
      const i = this.items.findIndex((x) => x.id === r.id);
      if (i < 0) return;
      this.items[i] = fresh;
      this.renderItem(fresh);
      this.follow(fresh);
    }, POLL_MS));
  }

  render() {
    const u = this.ui;
    u.section.hidden = !this.id || this.items.length === 0;
    u.count.textContent = number(this.items.length);
    u.toggle.setAttribute('aria-expanded', String(this.expanded));
    u.list.hidden = !this.expanded;
    const hadFocus = u.list.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = hadFocus && hadFocus.closest('.rec-item') && hadFocus.dataset.action;
    const focusId = hadFocus && hadFocus.closest('.rec-item') && hadFocus.closest('.rec-item').dataset.id;
    u.list.replaceChildren(...this.items.map((r) => this.item(r)));
    if (focusKey) {
      const again = u.list.querySelector(`.rec-item[data-id="${CSS.escape(focusId)}"] [data-action="${focusKey}"]`);
      if (again) again.focus();
    }
  }

  renderItem(r) {
    const old = this.ui.list.querySelector(`.rec-item[data-id="${CSS.escape(r.id)}"]`);
    if (!old) return;
    const bar = old.querySelector('progress');
    if (bar && r.status === old.dataset.status) {
      // Only the progress moved: keep the element (and any focus on it).
      showProgress(bar, old.querySelector('.rec-percent'), r.progress);
      return;
    }
    old.replaceWith(this.item(r));
  }

  item(r) {
    const li = el('li', 'rec-item');
    li.dataset.id = r.id;
    li.dataset.status = r.status;
    const top = el('div', 'rec-top');
    const title = el('p', 'rec-title');
    const time = el('time');
    time.dateTime = r.startedAt || '';
    time.textContent = formatDate(r.startedAt);
    title.append(time);
    const status = el('span', `chip rec-status rec-status-${r.status}`);
    setText(status, STATUS_KEYS[r.status] || 'recording.status_failed');
    top.append(title, status);
    if (r.interrupted) {
      const chip = el('span', 'chip rec-interrupted');
      setText(chip, 'recording.interrupted');
      top.append(chip);
    }
    li.append(top);

    const facts = el('dl', 'rec-facts');
    const fact = (key, value) => {
      if (!value) return;
      const dt = el('dt');
      setText(dt, key);
      const dd = el('dd');
      dd.textContent = value;
      facts.append(dt, dd);
    };
    if (r.durationMs > 0) fact('recording.label_duration', formatDuration(r.durationMs));
    if (r.participants && r.participants.length) fact('recording.label_participants', formatList(r.participants));
    if (r.size > 0) fact('recording.label_size', formatSize(r.size));
    if (facts.childElementCount) li.append(facts);
    if (r.interrupted) {
      const why = el('p', 'rec-note');
      setText(why, 'recording.interrupted_note');
      li.append(why);
    }

    if (r.status === 'processing') {
      const wrap = el('div', 'rec-progress');
      const label = el('span', 'rec-progress-label');
      label.id = `rec-progress-${r.id}`;
      setText(label, 'recording.processing');
      const bar = el('progress');
      bar.max = 1;
      bar.setAttribute('aria-labelledby', label.id);
      const pct = el('span', 'rec-percent');
      pct.setAttribute('aria-hidden', 'true');
      showProgress(bar, pct, r.progress);
      wrap.append(label, bar, pct);
      li.append(wrap);
    }

    if (r.status === 'ready') {
      const actions = el('div', 'rec-actions');
      const play = el('button', 'btn btn-primary btn-small rec-play');
      play.type = 'button';
      play.dataset.action = 'play';
      setText(play, 'recording.play');
      play.addEventListener('click', () => this.play(r, li));
      const dl = el('button', 'btn btn-secondary btn-small rec-download');
      dl.type = 'button';
      dl.dataset.action = 'download';
      setText(dl, 'recording.download');
      dl.addEventListener('click', () => this.download(r, li));
      actions.append(play, dl);
      li.append(actions);
    }
    const err = el('p', 'field-error rec-error');
    err.setAttribute('role', 'alert');
    err.hidden = true;
    li.append(err);
    if (this.playing === r.id) {
      this.ui.video.setAttribute('aria-label', t('recording.player_label', { date: formatDate(r.startedAt) }));
      li.append(this.ui.player);
    }
    return li;
  }

  async grant(r, li, kind) {
    const err = li.querySelector('.rec-error');
    err.hidden = true;
    try {
      return await post(`/recordings/${encodeURIComponent(r.id)}/${kind}`);
    } catch (e) {
      console.error(`recording ${kind}:`, e);
      let key = 'recording.error_open';
      if (e instanceof ApiError && e.status === 410) key = 'recording.error_gone';
      if (e instanceof ApiError && e.code === 'not_ready') key = 'recording.error_not_ready';
      setText(err, key);
      err.hidden = false;
      return null;
    }
  }

  async play(r, li) {
    const g = await this.grant(r, li, 'play');
    if (!g || !g.url || !this.items.some((x) => x.id === r.id)) return;
    const { video } = this.ui;
    this.playing = r.id;
    video.onerror = () => {
      const err = this.ui.player.parentElement && this.ui.player.parentElement.querySelector('.rec-error');
      if (!err) return;
      setText(err, 'recording.error_open');
      err.hidden = false;
    };
    video.src = g.url;
    this.render(); // puts the player under this recording
    video.play().catch(() => {
      // Autoplay refused: the player's controls are there to press.
    });
    video.focus();
  }

  stopPlaying(focusBack) {
    const { player, video } = this.ui;
    const id = this.playing;
    this.playing = '';
    video.pause();
    video.removeAttribute('src');
    video.load();
    player.remove();
    if (focusBack && id) {
      const b = this.ui.list.querySelector(`.rec-item[data-id="${CSS.escape(id)}"] .rec-play`);
      if (b) b.focus();
    }
  }

  async download(r, li) {
    const g = await this.grant(r, li, 'download');
    if (!g || !g.url) return;
    // The server answers with Content-Disposition: attachment, so the
    // browser saves the file and the console stays.
    const a = document.createElement('a');
    a.href = g.url;
    a.download = '';
    document.body.append(a);
    a.click();
    a.remove();
  }
}

function showProgress(bar, pct, progress) {
  const p = Math.max(0, Math.min(1, Number(progress) || 0));
  bar.value = p;
  const text = percent(p);
  bar.setAttribute('aria-valuetext', text);
  pct.textContent = text;
}

function el(tag, className) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}

function fmt(make, fallback) {
  try {
    return make(language());
  } catch {
    return fallback;
  }
}

function number(n) {
  return fmt((l) => new Intl.NumberFormat(l).format(n), String(n));
}

function percent(p) {
  return fmt((l) => new Intl.NumberFormat(l, { style: 'percent' }).format(p), `${Math.round(p * 100)}%`);
}

function formatDate(iso) {
  const d = new Date(iso || 0);
  if (Number.isNaN(d.getTime())) return '';
  return fmt((l) => new Intl.DateTimeFormat(l, { dateStyle: 'medium', timeStyle: 'short' }).format(d), d.toISOString());
}

// formatDuration writes a length as a clock would, 4:05 or 1:02:03, with
// the language's digits.
function formatDuration(ms) {
  const total = Math.max(1, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => fmt((l) => new Intl.NumberFormat(l, { minimumIntegerDigits: 2 }).format(n), String(n).padStart(2, '0'));
  const one = (n) => number(n);
  const text = h ? `${one(h)}:${two(m)}:${two(s)}` : `${one(m)}:${two(s)}`;
  return `\u2066${text}\u2069`; // a clock reads left to right in Arabic too
}

function formatSize(bytes) {
  const units = [['gigabyte', 1e9], ['megabyte', 1e6], ['kilobyte', 1e3]];
  for (const [unit, size] of units) {
    if (bytes >= size) {
      const n = bytes / size;
      return fmt((l) => new Intl.NumberFormat(l, { style: 'unit', unit, maximumFractionDigits: n < 10 ? 1 : 0 }).format(n), `${n.toFixed(1)} ${unit}`);
    }
  }
  return fmt((l) => new Intl.NumberFormat(l, { style: 'unit', unit: 'byte' }).format(bytes), `${bytes} B`);
}

function formatList(names) {
  return fmt((l) => new Intl.ListFormat(l, { type: 'conjunction' }).format(names), names.join(', '));
}
