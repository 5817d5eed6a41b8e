// Progressive enhancement of the opt-out settings page. Without this file
// the page works through its forms; with it, the drop-down follows the search
// box as the admin types, the table gets a select-all, and the outcome of the
// last change takes focus so screen readers announce it.
"use strict";

(function () {
  const DELAY_MS = 150;

  function enhanceSearch() {
    const input = document.getElementById("user-search");
    const select = document.getElementById("opt-out-user");
    const note = document.getElementById("candidates-note");
    if (!input || !select || !note || !window.fetch) {
      return;
    }
    const data = select.dataset;
    const limit = Number(data.limit) || 200;
    let timer = 0;
    let latest = 0;
    let controller = null;

    function fill(users, more, query) {
      const chosen = select.value;
      const placeholder = select.options[0];
      select.replaceChildren(placeholder);
      for (const user of users) {
        const option = document.createElement("option");
        option.value = user.id;
        option.textContent = user.name + " (" + (user.email || user.id) + ")";
        select.append(option);
      }
      select.value = users.some((user) => user.id === chosen) ? chosen : "";
      const count = String(users.length);
      let text;
      if (users.length === 0) {
        text = query ? data.noteNone : data.noteNobody;
      } else if (more) {
        text = data.noteSome.replace("{n}", count);
      } else {
        text = users.length === 1 ? data.noteOne : data.noteAll.replace("{n}", count);
      }
      note.textContent = text;
    }

    async function search() {
      const query = input.value.trim();
      const ticket = ++latest;
      if (controller) {
        controller.abort();
      }
      controller = new AbortController();
      const params = new URLSearchParams({ opted_out: "false", active: "true", limit: String(limit) });
      if (query) {
        params.set("query", query);
      }
      try {
        const response = await fetch(data.searchUrl + "?" + params, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          signal: controller.signal,
        });
        if (!response.ok || ticket !== latest) {
          return;
        }
        const page = await response.json();
        if (ticket === latest) {
          fill(page.users || [], Boolean(page.next_cursor), query);
        }
      } catch (error) {
        // Aborted by a newer search, or offline: the Search button still works.
      }
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, DELAY_MS);
    });
  }

  function enhanceSelectAll() {
    const all = document.getElementById("select-all");
    const table = document.getElementById("opt-out-list");
    if (!all || !table) {
      return;
    }
    const boxes = Array.from(table.querySelectorAll("tbody input[type=checkbox]"));
    function sync() {
      const ticked = boxes.filter((box) => box.checked).length;
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    all.addEventListener("change", function () {
      for (const box of boxes) {
        box.checked = all.checked;
      }
      sync();
    });
    for (const box of boxes) {
      box.addEventListener("change", sync);
    }
    sync();
    document.getElementById("select-all-row").hidden = false;
  }

  function focusOutcome() {
    const flash = document.getElementById("flash");
    if (flash) {
      flash.focus();
    }
  }

  enhanceSearch();
  enhanceSelectAll();
  focusOutcome();
})();
