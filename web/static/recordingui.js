// Recording, as the people in a call see it (docs/protocol.md, "Recording,
// with consent"): while the call is recorded every page shows "● Recording"
// in words; each person is asked for their consent, in a dialog that says
// what is recorded and why, and may say no (the call goes on); staff have
// Record / Stop recording and see, on each person's tile, whether that
// person agreed, declined or has not answered yet, so they know who is not
// in the recording and can choose what to do.
//
// The page feeds this the session's joined, recording and consent frames
// (and errors about record and consent) through message(); frames go out
// through send(). Everything is built here, so the call page's HTML needs
// no change.
import { setText, apply, onChange } from './i18n.js';
import { pathIcon } from './icons.js';

// CONSENT_TEXT_VERSION names the words of the consent request: the
// consent.* entries of every catalog (i18n/*.json). It must equal
// consentVersion in cmd/videosupport/app.go (a test compares them), and the
// server refuses an answer to another version. Changing what those words
// say, in any language, means a new version in both places, so that every
// answer on record says which words the person agreed to.
export const CONSENT_TEXT_VERSION = '2026-11-23.2';


// Keys of the consent states shown to staff on each tile.
const CONSENT_KEYS = {
  agreed: 'recording.consent_agreed',
  declined: 'recording.consent_declined',
  pending: 'recording.consent_pending',
};

export class RecordingUI {
  // opts: send(frame); isStaff() says whether this person may record;
  // view (the call's view), tiles (the tile grid's element) and controls
  // (the call's control bar) say where things go.
  constructor({ send, isStaff, view, tiles, controls }) {
    this.send = send;
    this.isStaff = isStaff;
    this.tiles = tiles;
    this.reset();
    loadStyles();
    this.build(view, controls);
    new MutationObserver(() => this.renderTiles()).observe(tiles, { childList: true });
    onChange(() => this.render());
    this.render();
  }

  reset() {
    this.on = false;
    this.by = '';
    this.version = '';
    this.myId = '';
    this.mine = ''; // my answer: '', 'agreed' or 'declined'
    this.consents = new Map(); // participant id -> {name, consent}
    this.asking = false; // a record frame is on its way
  }

  build(view, controls) {
    const bar = el('div', 'rec-bar');
    bar.hidden = true;
    const indicator = el('p', 'rec-indicator');
    indicator.append(el('span', 'rec-dot'), el('span', 'rec-word'));
    indicator.firstChild.setAttribute('aria-hidden', 'true');
    setText(indicator.lastChild, 'recording.indicator');
    const mine = el('p', 'rec-mine');
    const answer = el('button', 'btn btn-secondary btn-small rec-answer');
    answer.type = 'button';
    answer.hidden = true;
    setText(answer, 'consent.answer');
    answer.addEventListener('click', () => this.ask());
    bar.append(indicator, mine, answer);
    view.prepend(bar);

    // Spoken news: recording started or stopped, someone's answer.
    const live = el('p', 'visually-hidden');
    live.setAttribute('role', 'status');
    live.setAttribute('aria-live', 'polite');
    view.append(live);

    const toggle = el('button', 'ctl ctl-rec');
    toggle.type = 'button';
    toggle.id = 'rec-toggle';
    toggle.hidden = true;
    toggle.append(pathIcon('M12 5.5a6.5 6.5 0 1 1 0 13 6.5 6.5 0 0 1 0-13z', 'rec-icon-start'),
      pathIcon('M7 7h10v10H7z', 'rec-icon-stop'), el('span', 'ctl-text'));
    toggle.addEventListener('click', () => this.toggle());
    controls.insertBefore(toggle, controls.querySelector('#leave'));

    const dialog = el('dialog', 'dialog consent-dialog');
    dialog.id = 'consent-dialog';
    dialog.setAttribute('aria-labelledby', 'consent-heading');
    dialog.setAttribute('aria-describedby', 'consent-what consent-choice');
    const heading = el('h2');
    heading.id = 'consent-heading';
    heading.tabIndex = -1;
    const what = el('p');
    what.id = 'consent-what';
    setText(what, 'consent.what');
    const choice = el('p');
    choice.id = 'consent-choice';
    setText(choice, 'consent.choice');
    const buttons = el('div', 'dialog-buttons consent-buttons');
    const agree = el('button', 'btn btn-primary btn-big');
    agree.type = 'button';
    agree.id = 'consent-agree';
    setText(agree, 'consent.agree');
    const decline = el('button', 'btn btn-secondary btn-big');
    decline.type = 'button';
    decline.id = 'consent-decline';
    setText(decline, 'consent.decline');
    agree.addEventListener('click', () => this.answer(true));
    decline.addEventListener('click', () => this.answer(false));
    buttons.append(agree, decline);
    const outdated = el('p', 'field-error consent-outdated');
    outdated.hidden = true;
    setText(outdated, 'consent.outdated');
    dialog.append(heading, what, choice, outdated, buttons);
    // Escape closes the question without an answer: nothing of this
    // person is recorded, and "Answer" in the bar asks again.
    dialog.addEventListener('close', () => this.restoreFocus());
    document.body.append(dialog);

    this.ui = { bar, mine, answer, live, toggle, dialog, heading, outdated, agree, decline };
  }

  // message takes the session's frames about recording; {type: 'ended'}
  // says the session is over.
  message(msg) {
    switch (msg.type) {
      case 'joined':
        this.joined(msg);
        break;
      case 'recording':
        this.recording(msg);
        break;
      case 'consent':
        this.consent(msg.participant);
        break;
      case 'error':
        this.failed(msg);
        break;
      case 'ended':
        this.close();
        this.reset();
        break;
      default:
        return;
    }
    this.render();
  }

  joined(msg) {
    this.reset();
    this.myId = (msg.you && msg.you.id) || '';
    if (!msg.recording || !msg.recording.on) return;
    this.start(msg.recording, [msg.you, ...(msg.participants || [])]);
    this.say('recording.announce_on', { name: this.by });
  }

  recording(msg) {
    const r = msg.recording || {};
    this.asking = false;
    if (!r.on) {
      const was = this.on;
      this.on = false;
      this.mine = '';
      this.consents.clear();
      this.close();
      if (was) this.say('recording.announce_stopped', { name: r.by || '' });
      return;
    }
    this.start(r, msg.participants || []);
    this.say('recording.announce_started', { name: this.by });
  }

  // start takes the state of a recording going on and asks this person,
  // unless they have answered (the one who started it agreed by doing so).
  start(r, people) {
    this.on = true;
    this.by = r.by || '';
    this.version = r.version || '';
    this.consents.clear();
    for (const p of people) {
      if (p && p.id) this.consents.set(p.id, { name: p.name || '', consent: p.consent || '' });
    }
    const me = this.consents.get(this.myId);
    this.mine = (me && me.consent) || '';
    if (!this.mine) this.ask();
  }

  consent(p) {
    if (!p || !p.id || !this.on) return;
    this.consents.set(p.id, { name: p.name || '', consent: p.consent || '' });
    if (p.id === this.myId) {
      this.mine = p.consent || '';
      return;
    }
    if (this.isStaff()) {
      this.say(p.consent === 'agreed' ? 'recording.announce_agreed' : 'recording.announce_declined', { name: p.name || '' });
    }
  }

  failed(msg) {
    if (msg.about === 'record') {
      this.asking = false;
      this.say(msg.code === 'out_of_order' ? 'recording.error_state' : 'recording.error_start');
    } else if (msg.about === 'consent' && msg.code === 'bad_message') {
      // The server's words are another version than this page's.
      this.outdated();
    }
  }

  toggle() {
    if (this.asking) return;
    this.asking = true;
    this.send({ type: 'record', on: !this.on });
    this.render();
  }

  // ask shows the consent question and moves the focus into it.
  ask() {
    const d = this.ui.dialog;
    if (!this.on || d.open) return;
    this.before = document.activeElement;
    setText(this.ui.heading, 'consent.heading', { name: this.by });
    const stale = this.version !== CONSENT_TEXT_VERSION;
    if (stale) this.outdated();
    else this.ui.outdated.hidden = true;
    d.showModal();
    this.ui.heading.focus();
  }

  outdated() {
    this.ui.outdated.hidden = false;
    for (const b of [this.ui.agree, this.ui.decline]) b.disabled = true;
  }

  answer(agreed) {
    if (!this.on || this.version !== CONSENT_TEXT_VERSION) return;
    this.send({ type: 'consent', consent: agreed ? 'agree' : 'decline', version: this.version });
    this.mine = agreed ? 'agreed' : 'declined';
    this.close();
    this.render();
    this.say(agreed ? 'consent.agreed' : 'consent.declined');
  }

  close() {
    if (this.ui.dialog.open) this.ui.dialog.close();
  }

  // restoreFocus gives the focus back to where it was before the question
  // (the browser may not, when the dialog opened by itself).
  restoreFocus() {
    const back = this.before;
    this.before = null;
    for (const b of [this.ui.agree, this.ui.decline]) b.disabled = false;
    if (back && back.isConnected && !back.closest('[hidden]')) back.focus();
    this.render();
  }

  say(key, vars) {
    const live = this.ui.live;
    setText(live, null);
    // A moment later, so a repeated message is spoken again.
    setTimeout(() => setText(live, key, vars), 50);
  }

  render() {
    const u = this.ui;
    u.bar.hidden = !this.on;
    document.body.classList.toggle('recording-on', this.on);
    let key = 'consent.pending';
    if (this.mine === 'agreed') key = 'consent.agreed';
    if (this.mine === 'declined') key = 'consent.declined';
    setText(u.mine, this.on ? key : null);
    u.mine.dataset.consent = this.mine || 'pending';
    // Answered, the person can still change their mind: withdrawn, nothing
    // more of theirs is recorded.
    u.answer.hidden = !this.on || u.dialog.open;
    setText(u.answer, this.mine ? 'consent.change' : 'consent.answer');
    const staff = this.isStaff();
    u.toggle.hidden = !staff;
    setText(u.toggle.querySelector('.ctl-text'), this.on ? 'recording.stop' : 'recording.start');
    u.toggle.classList.toggle('on', this.on);
    if (this.asking) u.toggle.setAttribute('aria-disabled', 'true');
    else u.toggle.removeAttribute('aria-disabled');
    this.renderTiles();
  }

  // renderTiles puts each person's answer on their tile, for staff, while
  // the call is recorded.
  renderTiles() {
    const show = this.on && this.isStaff();
    for (const tile of this.tiles.querySelectorAll('.tile')) {
      const id = tile.dataset.participant;
      let badge = tile.querySelector('.rec-consent');
      if (!show || id === 'local') {
        if (badge) badge.remove();
        continue;
      }
      if (!badge) {
        badge = el('span', 'rec-consent');
        tile.append(badge);
      }
      const c = this.consents.get(id);
      const state = (c && c.consent) || 'pending';
      if (badge.dataset.consent !== state || !badge.textContent) {
        badge.dataset.consent = state;
        setText(badge, CONSENT_KEYS[state] || CONSENT_KEYS.pending);
        apply(badge);
      }
    }
  }
}

function el(tag, className) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}


// loadStyles adds recording.css to the page once (the pages' HTML belongs
// to their own modules; this keeps the hook into them to a script line).
export function loadStyles() {
  if (document.querySelector('link[data-recording-css]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = '/static/recording.css';
  link.dataset.recordingCss = '';
  document.head.append(link);
}
