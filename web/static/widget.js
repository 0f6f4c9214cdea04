// The chat widget. One line on any website,
//
//   <script src="https://support.example.com/widget.js" defer></script>
//
// adds a round chat button in the bottom corner (the bottom left on a
// right-to-left page) that opens a panel holding this server's /chat page
// in an iframe. The script is classic (not a module) so it works in a plain
// <script> tag, and it finds its server from its own src, so it works from
// any origin.
//
// It must not disturb the page it lands on, nor be disturbed by it: the
// button and panel live in a shadow root, styled through a constructed
// stylesheet and element.style (both allowed under a strict CSP that
// forbids inline <style>), and nothing leaks into the page's globals
// except window.videosupportWidget ({open, close}) for sites that want to
// open the chat from their own button.
//
// Its few words come from the message catalogs: web.go replaces the
// placeholder below with the widget.* keys of every catalog.
(() => {
  'use strict';
  if (window.videosupportWidget) return;
  const script = document.currentScript;
  if (!script || !script.src) return;
  const origin = new URL(script.src, location.href).origin;
  const CATALOG = /*catalog*/{};

  const lang = pickLanguage();
  const words = CATALOG[lang] || CATALOG.en || {};
  const rtl = lang === 'ar' || pageDirection() === 'rtl';
  const say = (key) => words[key] || key;

  let host;
  let launcher;
  let panel;
  let frame = null;
  let unread = false;

  // pickLanguage follows the page's own language, then the visitor's.
  function pickLanguage() {
    const tags = [script.dataset.lang, document.documentElement.lang, ...(navigator.languages || [])];
    for (const tag of tags) {
      const t = String(tag || '').toLowerCase();
      if (!t) continue;
      if (t.startsWith('zh')) return /hant|-tw|-hk|-mo/.test(t) ? 'zh-Hant' : 'zh-Hans';
      if (t.startsWith('ar')) return 'ar';
      if (t.startsWith('en')) return 'en';
    }
    return 'en';
  }

  function pageDirection() {
    try {
      return getComputedStyle(document.documentElement).direction;
    } catch {
      return document.documentElement.dir;
    }
  }

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .launcher {
      position: fixed; inset-block-end: 20px; ${rtl ? 'left' : 'right'}: 20px;
      z-index: 2147483000; inline-size: 64px; block-size: 64px; padding: 0;
      display: grid; place-items: center; border: 2px solid #fff; border-radius: 50%;
      background: #0b57d0; color: #fff; cursor: pointer;
      box-shadow: 0 4px 14px rgb(0 0 0 / 0.3);
      font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
    }
    .launcher:hover { background: #0842a0; }
    .launcher:focus-visible { outline: 3px solid #0a2a66; outline-offset: 3px; }
    .launcher svg { inline-size: 30px; block-size: 30px; fill: none; stroke: currentColor;
      stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
    .launcher .when-open { display: none; }
    .launcher[aria-expanded="true"] .when-open { display: block; }
    .launcher[aria-expanded="true"] .when-closed { display: none; }
    .dot { position: absolute; inset-block-start: -2px; inset-inline-end: -2px; inline-size: 18px;
      block-size: 18px; border-radius: 50%; background: #b3261e; border: 2px solid #fff; }
    .dot[hidden], .panel[hidden] { display: none; }
    .panel {
      position: fixed; inset-block-end: 96px; ${rtl ? 'left' : 'right'}: 20px; z-index: 2147483000;
      inline-size: min(400px, calc(100vw - 40px)); block-size: min(640px, calc(100vh - 120px));
      display: flex; flex-direction: column; overflow: hidden;
      background: #fff; border-radius: 14px; box-shadow: 0 8px 30px rgb(0 0 0 / 0.3);
      font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
      color: #14181f;
    }
    .bar { display: flex; align-items: center; justify-content: space-between; gap: 8px;
      padding-block: 6px; padding-inline: 16px 6px; background: #0b57d0; color: #fff; }
    .title { margin: 0; font-size: 17px; font-weight: 700; }
    .close { inline-size: 48px; block-size: 48px; display: grid; place-items: center; padding: 0;
      border: 0; border-radius: 50%; background: transparent; color: #fff; cursor: pointer; }
    .close:hover { background: rgb(255 255 255 / 0.15); }
    .close:focus-visible { outline: 3px solid #fff; outline-offset: -4px; }
    .close svg { inline-size: 26px; block-size: 26px; fill: none; stroke: currentColor;
      stroke-width: 2.2; stroke-linecap: round; }
    iframe { flex: 1; inline-size: 100%; border: 0; background: #f4f6f9; }
    @media (max-width: 480px), (max-height: 560px) {
      .panel { inset: 0; inline-size: 100%; block-size: 100%; border-radius: 0; }
      .launcher[aria-expanded="true"] { display: none; }
    }
  `;

  function svg(paths, className) {
    const ns = 'http://www.w3.org/2000/svg';
    const s = document.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    if (className) s.setAttribute('class', className);
    for (const d of paths) {
      const p = document.createElementNS(ns, 'path');
      p.setAttribute('d', d);
      s.append(p);
    }
    return s;
  }

  function el(tag, props) {
    const e = document.createElement(tag);
    Object.assign(e, props);
    return e;
  }

  function build() {
    host = el('div', { id: 'videosupport-widget' });
    host.dir = rtl ? 'rtl' : 'ltr';
    host.lang = lang;
    const root = host.attachShadow({ mode: 'open' });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(el('style', { textContent: CSS }));
    }

    launcher = el('button', { type: 'button', className: 'launcher' });
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', 'panel');
    launcher.append(
      svg(['M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.5 4v-4A1.5 1.5 0 0 1 4 14.5z'], 'when-closed'),
      svg(['M6 6l12 12M18 6 6 18'], 'when-open'),
      el('span', { className: 'dot', hidden: true }),
    );
    launcher.addEventListener('click', () => (panel.hidden ? open() : close()));

    panel = el('div', { id: 'panel', className: 'panel', hidden: true });
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-labelledby', 'title');
    const bar = el('div', { className: 'bar' });
    const title = el('h2', { id: 'title', className: 'title', textContent: say('widget.title') });
    const closer = el('button', { type: 'button', className: 'close' });
    closer.setAttribute('aria-label', say('widget.close'));
    closer.append(svg(['M6 6l12 12M18 6 6 18']));
    closer.addEventListener('click', () => close());
    bar.append(title, closer);
    panel.append(bar);

    root.append(panel, launcher);
    root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !panel.hidden) {
        ev.stopPropagation();
        close();
      }
    });
    label();
    document.body.append(host);
  }

  function label() {
    const text = say('widget.open') + (unread ? ` – ${say('widget.new_reply')}` : '');
    launcher.setAttribute('aria-label', panel.hidden ? text : say('widget.close'));
    launcher.querySelector('.dot').hidden = !unread;
  }

  function open() {
    if (!panel) return;
    if (!frame) {
      frame = el('iframe', {
        src: `${origin}/chat?embed=1&lang=${encodeURIComponent(lang)}`,
        title: say('widget.title'),
      });
      // Focusing the element before its page has loaded does not put the
      // keyboard inside it; focusing its window once loaded does.
      frame.addEventListener('load', () => {
        if (panel.hidden) return;
        frame.focus();
        if (frame.contentWindow) frame.contentWindow.focus();
      });
      panel.append(frame);
    }
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    unread = false;
    label();
    frame.focus();
    if (frame.contentWindow) frame.contentWindow.focus();
  }

  function close() {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    label();
    launcher.focus();
  }

  // The chat frame says when it is ready, when the person pressed Escape
  // inside it, and when a reply arrived (a dot on the button while the
  // panel is closed).
  addEventListener('message', (ev) => {
    if (!frame || ev.source !== frame.contentWindow || ev.origin !== origin) return;
    const type = ev.data && ev.data.type;
    if (type === 'videosupport:ready') panel.dataset.ready = 'true';
    if (type === 'videosupport:close') close();
    if (type === 'videosupport:message' && panel.hidden) {
      unread = true;
      label();
    }
  });

  window.videosupportWidget = { open: () => open(), close: () => close() };
  if (document.body) build();
  else document.addEventListener('DOMContentLoaded', build, { once: true });
})();
