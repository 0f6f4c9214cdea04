// The status region every page has: #status inside #notice, plus an
// optional action button (#retry) next to it.
//
// Information is announced politely (role="status"); errors interrupt
// (role="alert"). Text is set a moment after the role so that screen
// readers see a change in a region whose role they already know, and a
// message repeated twice is announced twice. A timer rather than
// requestAnimationFrame, so a message still lands in a background tab.
import { setText } from './i18n.js';

export class Notice {
  constructor() {
    this.box = document.getElementById('notice');
    this.text = document.getElementById('status');
    this.action = document.getElementById('retry');
    this.timer = 0;
    this.pending = 0;
  }

  // info shows a passing message; with timeout (ms) it clears itself.
  info(key, vars, { timeout = 0 } = {}) {
    this.show('info', 'status', key, vars, false);
    if (timeout > 0) {
      this.timer = setTimeout(() => this.clear(), timeout);
    }
  }

  // error shows a failure and, with retry, the "Try again" button; with
  // timeout (ms), for a failure the person can go on past, it clears
  // itself.
  error(key, { retry = false, timeout = 0 } = {}) {
    this.show('error', 'alert', key, undefined, retry);
    if (timeout > 0) {
      this.timer = setTimeout(() => this.clear(), timeout);
    }
  }

  // current is the catalog key on show, or '' when the region is empty.
  current() {
    return this.box.dataset.key || '';
  }

  clear() {
    clearTimeout(this.timer);
    clearTimeout(this.pending);
    delete this.box.dataset.kind;
    delete this.box.dataset.key;
    this.text.setAttribute('role', 'status');
    setText(this.text, null);
    if (this.action) this.action.hidden = true;
  }

  show(kind, role, key, vars, withAction) {
    this.clear();
    this.box.dataset.kind = kind;
    this.box.dataset.key = key;
    this.text.setAttribute('role', role);
    if (this.action) this.action.hidden = !withAction;
    this.pending = setTimeout(() => setText(this.text, key, vars), 30);
  }
}
