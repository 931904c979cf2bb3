/* The one live client every live page uses (docs/live-pages.md, docs/warroom-protocol.md): a
   websocket to the portal, reopened after any drop with a jittered, doubling delay; each
   (re)connection asks for what the page missed (`query`), kept alive by pings, and its state
   shown as "connecting…", "live", "reconnecting…" or why it stopped.

   Nothing is missed silently: the server numbers each group's messages (`stream`, `seq`), and
   the snapshot and every pong say how far each stream has got (`seqs`). A message after a gap
   is held until the gap fills (two web processes may send a stream's messages in the other
   order); a gap still open after IN_FLIGHT_MS, or a pong ahead of what the page heard for as
   long, makes the page ask for a snapshot again (`resync`, with the same `query` as a
   reconnection) and drop what arrives until it comes; a message the page already has (the
   snapshot held it, or it came twice) is dropped.

   Loaded before each page's own script, as window.Live; no build step. */
(function () {
  "use strict";

  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 10000;
  const PING_EVERY_MS = 20000;
  const SILENT_FOR_MS = 45000; // nothing heard for this long (pongs included): reconnect
  const IN_FLIGHT_MS = 2000; // a message still on its way (a pong ahead, a gap): wait this long
  const RESYNC_WITHIN_MS = 10000; // a resync not answered by then: reconnect
  const CLOSED_FOR_GOOD = {
    4401: "Signed out. Reload the page to sign in again.",
    4403: "Your role may not view this page live.",
    4404: "This page no longer exists.",
  };
  const LABELS = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };
  const NOT_CONNECTED = "Not connected. Try again once the page is live.";
  const DROPPED =
    "The connection dropped before the server answered; the page shows what was saved.";

  /** Open the page's socket at `path`.
      - `received(message)`: every message but the answers to `request`; the first of each
        connection is its snapshot (kind "snapshot"), after which the page counts as live;
      - `query()`: the search parameters of the next (re)connection, e.g. {since: 41};
      - `status`: the element that shows the connection's state (optional);
      - `closedForGood`: texts for close codes after which it does not reconnect;
      - `disconnected()`: the socket dropped (optional);
      - `unanswered(error)`: an error no request waits for (optional).
      Returns {start, request}. */
  function connect({
    path,
    received,
    query = () => ({}),
    status = null,
    closedForGood = {},
    disconnected = () => {},
    unanswered = () => {},
  }) {
    const endings = { ...CLOSED_FOR_GOOD, ...closedForGood };
    const pending = new Map();
    let socket = null;
    let ready = false; // this socket's snapshot has arrived
    let failures = 0;
    let lastHeard = 0;
    let retryTimer = null;
    let nextRef = 0;
    let seqs = {}; // stream -> the last number the page has
    let held = {}; // stream -> Map(number -> message): came ahead of a gap, until it fills
    let resyncTimer = null; // a resync is under way

    function open() {
      retryTimer = null;
      const url = new URL(path, window.location.href);
      url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
      for (const [name, value] of Object.entries(stringQuery())) {
        url.searchParams.set(name, value);
      }
      socket = new WebSocket(url);
      socket.addEventListener("message", (event) => heard(JSON.parse(event.data)));
      socket.addEventListener("close", closed);
    }

    function heard(message) {
      lastHeard = Date.now();
      if (message.kind === "snapshot") {
        ready = true;
        failures = 0;
        seqs = { ...message.seqs };
        held = {};
        window.clearTimeout(resyncTimer);
        resyncTimer = null;
        showStatus("live");
      }
      if (message.kind === "pong") {
        compare(message.seqs || {});
      } else if (message.kind === "ack" || message.kind === "error") {
        settle(message);
      } else if (message.stream === undefined) {
        received(message);
      } else {
        accepted(message).forEach(received);
      }
    }

    /** The numbered messages now in order: `message` and those it lets through. One ahead of
        a gap is held until the gap fills (two web processes may send a stream's messages in
        the opposite order), or for IN_FLIGHT_MS, after which the page resyncs. */
    function accepted(message) {
      if (resyncTimer !== null) return []; // the snapshot on its way holds it
      const { stream, seq } = message;
      const last = seqs[stream];
      if (!last) {
        // No stream the snapshot named, or one with no count yet: its first number (where
        // the count starts, itsm/realtime.py) follows nothing the page has.
        if (last === 0) seqs[stream] = seq;
        return [message];
      }
      if (seq <= last) return [];
      const waiting = held[stream] || new Map();
      const wasWaiting = waiting.size > 0;
      held[stream] = waiting.set(seq, message);
      const inOrder = [];
      while (waiting.has(seqs[stream] + 1)) {
        const next = waiting.get(seqs[stream] + 1);
        waiting.delete(next.seq);
        seqs[stream] = next.seq;
        inOrder.push(next);
      }
      if (waiting.size && !wasWaiting) {
        window.setTimeout(() => {
          if (held[stream]?.size) resync();
        }, IN_FLIGHT_MS);
      }
      return inOrder;
    }

    /** A pong's positions: one behind the page's means the server's count started again
        (Redis lost it); one ahead, that a message was lost, unless it is still on its way. */
    function compare(positions) {
      for (const [stream, seq] of Object.entries(positions)) {
        const last = seqs[stream] ?? 0;
        if (seq < last) resync();
        else if (seq > last) {
          window.setTimeout(() => {
            if ((seqs[stream] ?? 0) < seq) resync();
          }, IN_FLIGHT_MS);
        }
      }
    }

    /** Ask for a snapshot again, from what the page shows (`query`); reconnect if none comes. */
    function resync() {
      if (resyncTimer !== null || !send({ type: "resync", query: stringQuery() })) return;
      resyncTimer = window.setTimeout(() => socket?.close(), RESYNC_WITHIN_MS);
    }

    function stringQuery() {
      const texts = {};
      for (const [name, value] of Object.entries(query())) {
        if (value !== null && value !== undefined) texts[name] = String(value);
      }
      return texts;
    }

    function settle(message) {
      const callbacks = pending.get(message.ref);
      pending.delete(message.ref);
      if (message.kind === "ack") callbacks?.done(message.result);
      else if (callbacks) callbacks.failed(message.error);
      else unanswered(message.error);
    }

    function closed(event) {
      socket = null;
      ready = false;
      window.clearTimeout(resyncTimer);
      resyncTimer = null;
      const dropped = { dropped: true, message: DROPPED, fields: {} };
      for (const callbacks of pending.values()) callbacks.failed(dropped);
      pending.clear();
      disconnected();
      if (endings[event.code]) {
        showStatus("offline", endings[event.code]);
        return;
      }
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures);
      failures += 1;
      showStatus("reconnecting");
      retryTimer = window.setTimeout(open, delay * (0.5 + Math.random() / 2));
    }

    function retryNow() {
      if (retryTimer === null) return;
      window.clearTimeout(retryTimer);
      open();
    }

    function send(message) {
      if (!ready || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    }

    /** Send a write; `done(result)` on its ack; `failed(error)` on its error, on a drop
        before the answer, or at once when the page is not connected (error.dropped). */
    function request(message, { done, failed }) {
      nextRef += 1;
      const ref = `r${nextRef}`;
      if (!send({ ...message, ref })) {
        failed({ dropped: true, message: NOT_CONNECTED, fields: {} });
        return;
      }
      pending.set(ref, { done, failed });
    }

    function showStatus(state, text) {
      if (!status) return;
      status.dataset.status = state;
      status.textContent = text || LABELS[state];
    }

    function start() {
      showStatus("connecting");
      open();
      window.addEventListener("online", retryNow);
      window.setInterval(() => {
        if (!ready) return;
        if (Date.now() - lastHeard > SILENT_FOR_MS) socket.close();
        else send({ type: "ping" });
      }, PING_EVERY_MS);
    }

    return { start, request };
  }

  /** Fetch a server-rendered fragment (same origin, the session's cookie) and return its
      parts: the elements marked data-live-part, by name. Autoescaped HTML from the portal's
      own templates, parsed inertly (DOMParser runs no script). */
  async function fetchParts(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    const html = await response.text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    const parts = new Map();
    for (const part of doc.querySelectorAll("[data-live-part]")) {
      parts.set(part.dataset.livePart, part);
    }
    return parts;
  }

  /** `work()` at most once per `waitMs`, the last call of a burst included, never two at
      once: a burst of events makes one or two fetches, not one each. */
  function debounced(work, waitMs) {
    let timer = null;
    let running = false;
    let again = false;

    function schedule() {
      if (running) {
        again = true;
        return;
      }
      if (timer === null) timer = window.setTimeout(run, waitMs);
    }

    async function run() {
      timer = null;
      running = true;
      try {
        await work();
      } catch (error) {
        console.warn("live refresh failed", error);
      } finally {
        running = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    }

    return schedule;
  }

  window.Live = { connect, fetchParts, debounced };
})();
