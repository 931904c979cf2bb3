/* The bell in the top bar, live on every page (docs/live-pages.md): its socket
   (static/js/live.js, `ws/notifications/`) sends the unread count when it connects and again
   whenever the inbox changes. On the notifications page the list is fetched again too (the
   server-rendered fragment), and opening an unread notification's link marks it read first. */
(function () {
  "use strict";

  const REFRESH_WAIT_MS = 200;
  const MOST_SHOWN = 99;

  const bell = document.querySelector(".bell");
  if (bell && window.Live) startBell(bell);

  function startBell(bell) {
    const list = document.querySelector('[data-live-part="notifications"]');
    const refreshList = list
      ? window.Live.debounced(() => refreshNotifications(list), REFRESH_WAIT_MS)
      : () => {};
    if (list) markReadOnOpen(list);
    const connection = window.Live.connect({
      path: "/ws/notifications/",
      received(message) {
        if (message.kind !== "snapshot" && message.kind !== "notifications") return;
        const before = shownCount(bell);
        showCount(bell, message.unread);
        describe(bell, message);
        if (message.kind === "notifications" || before !== message.unread) refreshList();
      },
    });
    connection.start();
  }

  function shownCount(bell) {
    const count = bell.querySelector(".bell-count");
    return count ? Number(count.dataset.unread) : 0;
  }

  /** The count as the server renders it: none at 0, "99+" past 99, "unread" for screen readers. */
  function showCount(bell, unread) {
    let count = bell.querySelector(".bell-count");
    if (!unread) {
      count?.nextElementSibling?.remove();
      count?.remove();
      return;
    }
    if (!count) {
      count = element("span", "bell-count");
      bell.append(count, element("span", "visually-hidden", " unread"));
    }
    count.dataset.unread = String(unread);
    count.textContent = unread > MOST_SHOWN ? `${MOST_SHOWN}+` : String(unread);
  }

  /** The bell's tooltip names the newest unread notification. */
  function describe(bell, { unread, latest }) {
    const newest = latest.find((notification) => notification.unread);
    bell.title = newest
      ? `Notifications: ${unread} unread, newest “${newest.subject}”`
      : "Notifications";
  }

  async function refreshNotifications(list) {
    const url = new URL(list.dataset.liveFragment, window.location.href);
    url.search = window.location.search; // the same page of the list
    const parts = await window.Live.fetchParts(url);
    const part = parts.get("notifications");
    if (part) list.replaceChildren(...part.childNodes);
  }

  /** A plain click on an unread notification's link posts its "Mark read" form (with its
      CSRF token) before following the link; the page never changes state on a GET. */
  function markReadOnOpen(list) {
    list.addEventListener("click", (event) => {
      const link = event.target.closest(".notification-unread .row-link");
      if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
      const button = link.closest(".notification").querySelector("button[name=notification]");
      if (!button) return;
      event.preventDefault();
      const body = new FormData(button.form);
      body.set("notification", button.value);
      fetch(button.form.action, {
        method: "POST",
        body,
        credentials: "same-origin",
        redirect: "manual",
        keepalive: true,
      })
        .catch(() => {}) // the link opens all the same
        .finally(() => window.location.assign(link.href));
    });
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
})();
