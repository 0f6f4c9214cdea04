// A /ws/chat connection (docs/protocol.md, "Chat protocol") that stays up:
// when the socket drops it reconnects after 1, 2, 4, 8 then every 15
// seconds, and each time sends hello again, built fresh by the page so it
// carries the last seq the page has shown. The server then sends only
// what the page has not seen.
//
// States reported to onState: "connecting" (first attempt), "open" (the
// server said welcome), "reconnecting" (lost, trying again) and "stopped"
// (a fatal error or stop()).

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];

// Errors after which trying again cannot help: the credential or the
// conversation is not (or no longer) valid.
const FATAL = new Set(['unauthorized', 'forbidden', 'not_found', 'conversation_not_found']);

export function chatURL(loc = location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws/chat`;
}

export class ChatSocket {
  // hello() returns the hello frame to send on each (re)connect.
  // onFrame(msg) gets every server frame but errors that end the socket;
  // onFatal(code) is called once when the server refuses us for good.
  constructor({ hello, onFrame, onState = () => {}, onFatal = () => {}, url = chatURL() }) {
    this.hello = hello;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onFatal = onFatal;
    this.url = url;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = false;
    this.welcomed = false;
    this.state = '';
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  // open reports whether frames sent now reach the server in this session.
  get open() {
    return this.welcomed && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // send delivers msg if the session is open and reports whether it did.
  send(msg) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.setState('stopped');
  }

  // reconnectNow skips the wait, e.g. when the browser comes back online.
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.connect();
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.onState(s);
  }

  connect() {
    this.timer = 0;
    this.welcomed = false;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.error('chat socket:', err);
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify(this.hello()));
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!msg || typeof msg.type !== 'string') return;
      if (msg.type === 'welcome') {
        this.welcomed = true;
        this.attempt = 0;
        this.setState('open');
      }
      if (msg.type === 'error' && FATAL.has(msg.code) && !this.welcomed) {
        this.stopped = true;
        this.ws = null;
        ws.close(1000);
        this.setState('stopped');
        this.onFatal(msg.code);
        return;
      }
      try {
        this.onFrame(msg);
      } catch (err) {
        console.error(`chat socket: handling ${msg.type}:`, err);
      }
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      if (!this.stopped) this.retry();
    });
  }

  retry() {
    this.setState('reconnecting');
    const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), wait);
  }
}
