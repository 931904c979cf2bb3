/* The dashboard, the incident list and an incident's page, live (docs/live-pages.md).

   The page's socket (static/js/live.js) says when something changed; the page then fetches the
   server-rendered fragments of its changing parts (the elements marked data-live-part, rendered
   by the same templates as the page) and swaps them in, a burst of events making one fetch.
   An incident's timeline gets the events after the newest it shows, prepended. After a
   reconnect it fetches again: the server answers from the database, which is the catch-up.
   The page shows the latest events only; "Show older events" appends the page before the
   oldest shown (the link leads to that page without this script). No event is shown twice.

   SLA badges with a target count down here between fetches, and turn overdue when it passes. */
(function () {
  "use strict";

  const REFRESH_WAIT_MS = 200;
  const COUNTDOWN_EVERY_MS = 10000;
  const UNITS = [
    ["week", 7 * 24 * 60],
    ["day", 24 * 60],
    ["hour", 60],
    ["minute", 1],
  ];

  countDown();
  window.setInterval(countDown, COUNTDOWN_EVERY_MS);
  document.addEventListener("click", showOlderOnClick);
  const status = document.querySelector("[data-live-status]");
  if (status && window.Live) startLivePage(status);

  function startLivePage(status) {
    const timeline = document.querySelector('[data-live-part="timeline"]');
    // A page of older events (?before=): an incident's, whose timeline is not kept live.
    const olderPage = !timeline && document.querySelector("[data-timeline]") !== null;
    const rendered = status.dataset.liveRendered;
    let lastEvent = null; // the newest event heard of: where a reconnection catches up from
    let connected = false; // a snapshot came before: the next one follows a reconnect
    const fetchSoon = window.Live.debounced(
      () => refreshParts(status.dataset.liveFragment),
      REFRESH_WAIT_MS,
    );
    let stale = false; // changed while the tab was hidden: fetched once it is shown
    document.addEventListener("visibilitychange", () => {
      if (document.hidden || !stale) return;
      stale = false;
      fetchSoon();
    });
    const connection = window.Live.connect({
      path: status.dataset.liveWs,
      status,
      query: () => (lastEvent === null ? { rendered } : { since: lastEvent }),
      received(message) {
        if (message.kind === "snapshot") caughtUp(message);
        else if (message.kind === "timeline" || message.kind === "incident") changed(message);
      },
    });
    connection.start();

    function caughtUp(snapshot) {
      if (!snapshot.complete) {
        window.location.reload(); // it missed more than a catch-up holds
        return;
      }
      heardOf(snapshot.last_event);
      if (connected || snapshot.events.length) refresh();
      connected = true;
    }

    function changed(message) {
      heardOf(message.event ? message.event.id : message.event_id);
      refresh();
    }

    /** A hidden tab fetches nothing until it is shown: one fetch then, not one per event. */
    function refresh() {
      if (document.hidden) stale = true;
      else fetchSoon();
    }

    function heardOf(id) {
      if (typeof id === "number" && (lastEvent === null || id > lastEvent)) lastEvent = id;
    }

    async function refreshParts(fragment) {
      const url = new URL(fragment, window.location.href);
      if (timeline) {
        const newest = newestShown(timeline);
        if (newest !== null) url.searchParams.set("since", String(newest));
      } else if (olderPage) {
        if (lastEvent !== null) url.searchParams.set("since", String(lastEvent));
      } else {
        url.search = window.location.search; // the list: the same filters and page
      }
      const parts = await window.Live.fetchParts(url);
      for (const [name, part] of parts) {
        const here = document.querySelector(`[data-live-part="${name}"]`);
        if (!here) continue;
        if (here === timeline) prependEvents(timeline, part);
        else if (!inUse(here)) here.replaceChildren(...part.childNodes);
      }
      countDown();
    }
  }

  /** A part the person is working in (a form opened, a field focused) is left as it is: what
      they typed is not swept away; a transition no longer allowed answers in plain words. */
  function inUse(part) {
    return part.querySelector("details[open]") !== null || part.contains(document.activeElement);
  }

  function newestShown(list) {
    const items = list.querySelectorAll(":scope > [data-id]");
    const ids = [...items].map((item) => Number(item.dataset.id));
    return ids.length ? Math.max(...ids) : null;
  }

  /** The fragment's events (newest first) that the list does not show yet, on top. */
  function prependEvents(list, part) {
    if (part.dataset.complete === "false") {
      window.location.reload();
      return;
    }
    list.prepend(...unshown(list, part));
  }

  /** The events of `part` that `list` does not show yet. */
  function unshown(list, part) {
    return [...part.children].filter(
      (item) => !list.querySelector(`:scope > [data-id="${item.dataset.id}"]`),
    );
  }

  /* --- older events ----------------------------------------------------------------------- */

  /** A plain click on "Show older events" appends them here instead of leaving the page. */
  function showOlderOnClick(event) {
    const link = event.target.closest("[data-timeline-older]");
    if (!link || !window.Live || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (link.getAttribute("aria-busy") !== "true") showOlder(link);
  }

  /** The page of events before the oldest shown, appended, and its own link in place of this
      one (none when nothing is older); if the fetch fails, the link is followed. */
  async function showOlder(link) {
    link.setAttribute("aria-busy", "true");
    let parts;
    try {
      parts = await window.Live.fetchParts(new URL(link.dataset.fragment, window.location.href));
    } catch {
      window.location.assign(link.href);
      return;
    }
    const list = document.querySelector("[data-timeline]");
    list.append(...unshown(list, parts.get("older-events")));
    link.closest('[data-live-part="older-link"]').replaceWith(parts.get("older-link"));
  }

  /* --- SLA badges ------------------------------------------------------------------------- */

  function countDown() {
    const now = Date.now();
    for (const badge of document.querySelectorAll(".sla[data-target]")) {
      const left = Date.parse(badge.dataset.target) - now;
      const label = badge.dataset.label;
      if (left >= 0) {
        badge.textContent = `${label} ${duration(left)} left`;
      } else {
        badge.textContent = `${label} overdue ${duration(-left)}`;
        badge.classList.remove("sla-running", "sla-warned");
        badge.classList.add("sla-breached");
      }
    }
  }

  /** As Django's timeuntil says it: the largest unit, and the next one down when not zero
      ("1 hour, 4 minutes", "2 days", "0 minutes"), with no-break spaces. */
  function duration(ms) {
    const total = Math.floor(ms / 60000);
    const first = UNITS.findIndex(([, size]) => total >= size);
    if (first < 0) return "0\u00a0minutes";
    const [name, size] = UNITS[first];
    const count = Math.floor(total / size);
    const words = [counted(count, name)];
    const next = UNITS[first + 1];
    const rest = next ? Math.floor((total - count * size) / next[1]) : 0;
    if (rest) words.push(counted(rest, next[0]));
    return words.join(", ");
  }

  function counted(count, unit) {
    return `${count}\u00a0${unit}${count === 1 ? "" : "s"}`;
  }
})();
