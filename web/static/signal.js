// The signaling websocket (docs/protocol.md): JSON frames in and out.
//
// Frames are handed to onMessage one at a time, in order: the next is
// delivered only after the promise returned for the previous one settles,
// so an offer is fully applied before the candidates that follow it.

// signalURL is the /ws endpoint on the page's own host.
export function signalURL(loc = location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

export class Signal {
  // onMessage(msg) may return a promise; onClose(event) is called once
  // when a socket that had opened closes for any reason.
  constructor(url, { onMessage, onClose }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.ws = null;
    this.inbox = Promise.resolve();
    this.closedByUs = false;
  }

  // open resolves once the socket is open and rejects if it cannot open
  // within timeout ms.
  open(timeout = 10000) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        reject(err);
        return;
      }
      this.ws = ws;
      let opened = false;
      const timer = setTimeout(() => {
        if (!opened) {
          ws.close();
          reject(new Error('websocket open timed out'));
        }
      }, timeout);
      ws.addEventListener('open', () => {
        opened = true;
        clearTimeout(timer);
        resolve();
      });
      ws.addEventListener('close', (ev) => {
        clearTimeout(timer);
        if (!opened) {
          reject(new Error(`websocket closed before opening (${ev.code})`));
          return;
        }
        // Let frames already received be handled before the close.
        this.inbox = this.inbox.then(() => {
          if (!this.closedByUs) this.onClose(ev);
        });
      });
      ws.addEventListener('message', (ev) => this.receive(ev.data));
    });
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('signal: frame is not JSON');
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    this.inbox = this.inbox
      .then(() => this.onMessage(msg))
      .catch((err) => console.error(`signal: handling ${msg.type}:`, err));
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
    }
  }

  // close ends the socket without reporting it through onClose.
  close(code = 1000) {
    this.closedByUs = true;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code);
  }
}
