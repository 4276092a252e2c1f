// The live feed: a WebSocket to /v1/events with the page's filters. With auth on it first asks
// POST /v1/events/token (browsers cannot send headers on a WebSocket). It reconnects by itself with
// backoff and resumes with `since` = the last job event it saw, so nothing is lost in between.
import { auth, post } from "./api.js";

const listeners = new Set();
/** "idle" while no feed is open (the page shows nothing live). */
let connectionState = "idle";
let openFeeds = 0;

/** Subscribe to connection state changes ("idle", "connecting", "live", "offline"). */
export function onConnectionState(listener) {
  listeners.add(listener);
  listener(connectionState);
  return () => listeners.delete(listener);
}

function setState(state) {
  connectionState = state;
  for (const listener of listeners) listener(state);
}

/** Opens a feed; `onMessage` gets each parsed message. Returns an object with close(). */
export function openFeed(filters, onMessage) {
  let socket;
  let closed = false;
  let lastSeq = filters.since || null;
  let attempt = 0;
  let timer;

  async function connect() {
    if (closed) return;
    setState("connecting");
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) {
      if (name !== "since" && value) params.set(name, value);
    }
    if (lastSeq) params.set("since", lastSeq);
    try {
      if (auth.key) params.set("token", (await post("/v1/events/token")).token);
    } catch (error) {
      return retry();
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/v1/events?${params}`);
    socket.onopen = () => { attempt = 0; setState("live"); };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      if (message.kind === "job" && message.seq) lastSeq = message.seq;
      if (message.kind === "gap" && message.resume) {
        // Events were dropped for this socket: reconnect from the last one seen to fetch them.
        lastSeq = message.resume;
        socket.close();
        return;
      }
      onMessage(message);
    };
    socket.onclose = () => { if (!closed) retry(); };
  }

  function retry() {
    setState("offline");
    attempt += 1;
    clearTimeout(timer);
    timer = setTimeout(connect, Math.min(10000, 250 * 2 ** Math.min(attempt, 6)));
  }

  openFeeds += 1;
  connect();
  return {
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close();
      openFeeds -= 1;
      if (openFeeds === 0) setState("idle");
    },
  };
}
