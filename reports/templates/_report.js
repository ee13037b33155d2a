/* Filtering, sorting and row expansion for the results table.
   Reads only the DOM (escaped data-* attributes); no data is templated into this script. */
(function () {
  "use strict";
  var table = document.getElementById("findings");
  if (!table) { return; }
  /* "owner" is there only when some result has an owner (an audit of backend secrets). */
  var FILTERS = ["severity", "status", "check", "target", "owner"].filter(function (name) {
    return document.getElementById("filter-" + name);
  });
  var STATUS_ORDER = { failed: 0, error: 1, waived: 2, passed: 3, skipped: 4 };
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody.result"));
  var empty = document.getElementById("no-results");
  var text = document.getElementById("filter-text");

  function control(name) { return document.getElementById("filter-" + name); }

  function applyFilters() {
    var wanted = {};
    var described = [];
    FILTERS.forEach(function (name) {
      wanted[name] = control(name).value;
      if (wanted[name]) { described.push(name + " = " + wanted[name]); }
    });
    var needle = text.value.trim().toLowerCase();
    if (needle) { described.push("text contains \u201c" + text.value.trim() + "\u201d"); }
    var shown = 0;
    rows.forEach(function (row) {
      var match = FILTERS.every(function (name) { return !wanted[name] || row.dataset[name] === wanted[name]; }) &&
        (!needle || row.textContent.toLowerCase().indexOf(needle) !== -1);
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    empty.hidden = shown !== 0;
    document.getElementById("shown-count").textContent = String(shown);
    document.getElementById("filter-desc").textContent = described.length ? ", filtered by " + described.join(", ") : "";
  }

  function resetFilters() {
    FILTERS.forEach(function (name) { control(name).value = ""; });
    text.value = "";
    applyFilters();
  }

  FILTERS.forEach(function (name) { control(name).addEventListener("change", applyFilters); });
  text.addEventListener("input", applyFilters);
  document.getElementById("filter-reset").addEventListener("click", resetFilters);

  /* Sorting: each header knows how to derive a key from a row. */
  function cellText(row, index) {
    var cell = row.rows[0].cells[index];
    var key = cell.hasAttribute("data-key") ? cell : cell.querySelector("[data-key]");
    return (key || cell).textContent.trim().toLowerCase();
  }
  var KEYS = {
    status: function (r) { return [STATUS_ORDER[r.dataset.status], Number(r.dataset.order)]; },
    severity: function (r) { return [-Number(r.dataset.rankSeverity), Number(r.dataset.order)]; },
    check: function (r) { return [r.dataset.check, Number(r.dataset.order)]; },
    target: function (r) { return [r.dataset.target, Number(r.dataset.order)]; },
    location: function (r) { return [cellText(r, 4).replace(/:\d+$/, ""), Number(r.dataset.line)]; },
    message: function (r) { return [cellText(r, 5), Number(r.dataset.order)]; }
  };
  function compare(a, b) {
    for (var i = 0; i < a.length; i += 1) {
      if (a[i] < b[i]) { return -1; }
      if (a[i] > b[i]) { return 1; }
    }
    return 0;
  }
  var headers = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-sort]"));
  headers.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
      var key = KEYS[th.dataset.sort];
      var sign = direction === "ascending" ? 1 : -1;
      var keyed = rows.map(function (row) { return { row: row, key: key(row) }; });
      keyed.sort(function (a, b) { return sign * compare(a.key, b.key); });
      keyed.forEach(function (item) { table.insertBefore(item.row, empty); });
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", direction);
    });
  });

  /* Expanding a row shows message, evidence, remediation, waiver and references. */
  function toggle(row, open) {
    var summary = row.rows[0];
    var expand = open === undefined ? summary.getAttribute("aria-expanded") !== "true" : open;
    summary.setAttribute("aria-expanded", expand ? "true" : "false");
    row.rows[1].hidden = !expand;
  }
  rows.forEach(function (row) {
    var summary = row.rows[0];
    summary.addEventListener("click", function () { toggle(row); });
    summary.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(row); }
    });
  });

  /* Links from the compliance and waiver views: reveal, expand and highlight the row. */
  function reveal(id) {
    var row = document.getElementById(id);
    if (!row || !row.classList.contains("result")) { return false; }
    if (row.hidden) { resetFilters(); }
    toggle(row, true);
    row.scrollIntoView({ block: "center" });
    row.classList.remove("flash");
    void row.offsetWidth;
    row.classList.add("flash");
    return true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.row-link");
    if (link && reveal(link.getAttribute("href").slice(1))) {
      event.preventDefault();
      if (history.replaceState) { history.replaceState(null, "", link.getAttribute("href")); }
    }
  });
  if (location.hash) { reveal(location.hash.slice(1)); }
}());
