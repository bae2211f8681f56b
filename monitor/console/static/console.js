// news-monitor console: the only script, served as a file (the CSP forbids inline scripts).
// It opens the live stream of the alerts page and remembers the action token for this tab.
// Every piece of feed text is put in the page with textContent, never as HTML.
"use strict";

(function () {
  const baseTitle = document.title;
  let fresh = 0;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function matches(list, alert) {
    const rule = list.dataset.rule, level = list.dataset.level, place = list.dataset.place;
    if (rule && alert.rule_id !== rule) return false;
    if (level && alert.level !== level) return false;
    if (place) {
      const wanted = place.replace(/^place:/, "");
      if (!alert.places.includes(wanted)) return false;
    }
    return true;
  }

  const LEVELS = ["critical", "high", "medium", "low", "informational"];

  function row(alert) {
    const level = LEVELS.includes(alert.level) ? alert.level : "other";
    const li = el("li", "alert-row fresh " + level);
    li.dataset.rule = alert.rule_id;
    li.dataset.level = alert.level;
    const time = el("time", "", alert.event_time.replace("T", " ").slice(0, 16) + " UTC");
    time.setAttribute("datetime", alert.event_time);
    li.append(time, " ", el("span", "level " + level, alert.level), " ");
    const link = el("a", "title");
    link.href = "/alerts/" + encodeURIComponent(alert.alert_id);
    link.append(el("bdi", "", alert.title));
    li.append(link, " ");
    const rule = el("span", "rule");
    rule.append(el("code", "", alert.rule_id));
    li.append(rule);
    if (alert.headline) {
      const headline = el("span", "headline", alert.headline);
      headline.dir = "auto";
      li.append(headline);
    }
    if (alert.places.length) {
      const places = el("span", "places");
      for (const p of alert.places) places.append(el("bdi", "place", p));
      li.append(" ", places);
    }
    return li;
  }

  function live(list) {
    const status = document.getElementById("live-status");
    const counter = document.getElementById("new-count");
    const source = new EventSource("/live?after=" + encodeURIComponent(list.dataset.after || "0"));
    source.addEventListener("open", function () {
      status.textContent = "live";
      status.classList.add("on");
    });
    source.addEventListener("error", function () {
      status.textContent = "reconnecting…";
      status.classList.remove("on");
    });
    source.addEventListener("reload", function () {
      source.close();
      window.location.reload();
    });
    source.addEventListener("alert", function (message) {
      const alert = JSON.parse(message.data);
      if (!matches(list, alert)) return;
      const empty = document.getElementById("no-alerts");
      if (empty) empty.remove();
      list.prepend(row(alert));
      fresh += 1;
      counter.hidden = false;
      counter.textContent = fresh + " new";
      document.title = "(" + fresh + ") " + baseTitle;
    });
    // Looking at the page counts as having seen the new ones.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && fresh) {
        window.setTimeout(function () {
          fresh = 0;
          counter.hidden = true;
          document.title = baseTitle;
        }, 10000);
      }
    });
  }

  function tokens() {
    // The token lives in this tab's sessionStorage only: never in a cookie or a URL.
    for (const form of document.querySelectorAll("form.action")) {
      const token = form.querySelector("input[name=token]");
      const by = form.querySelector("input[name=by]");
      if (token && sessionStorage.getItem("console-token")) {
        token.value = sessionStorage.getItem("console-token");
      }
      if (by && localStorage.getItem("console-by")) by.value = localStorage.getItem("console-by");
      form.addEventListener("submit", function () {
        if (token && token.value) sessionStorage.setItem("console-token", token.value);
        if (by && by.value) localStorage.setItem("console-by", by.value);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const list = document.getElementById("alert-list");
    if (list && window.EventSource) live(list);
    tokens();
  });
})();
