// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Forms with data-confirm ask before they submit (destructive actions).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // A live fragment swapped in every few seconds would close the disclosures the reader
  // opened: remember the open <details id=...> of the target and open them again.
  var openDetails = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    openDetails = Array.prototype.map.call(
      event.detail.target.querySelectorAll("details[id][open]"), function (d) { return d.id; });
  });
  document.addEventListener("htmx:afterSettle", function () {
    openDetails.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    openDetails = [];
  });

  // Tabs whose section is in the URL (role=tablist data-follow="param"): the selected tab
  // follows the URL when htmx pushes a new one, and when Back or Forward restores one.
  function followTabs() {
    var lists = document.querySelectorAll("[role=tablist][data-follow]");
    Array.prototype.forEach.call(lists, function (list) {
      var param = list.getAttribute("data-follow");
      var tabs = list.querySelectorAll("[role=tab]");
      if (!tabs.length) return;
      var wanted = new URLSearchParams(window.location.search).get(param);
      var chosen = Array.prototype.filter.call(tabs, function (tab) {
        return new URL(tab.href, window.location.href).searchParams.get(param) === wanted;
      })[0] || tabs[0];
      Array.prototype.forEach.call(tabs, function (tab) {
        if (tab === chosen) tab.setAttribute("aria-selected", "true");
        else tab.removeAttribute("aria-selected");
      });
    });
  }
  document.addEventListener("htmx:pushedIntoHistory", followTabs);
  document.addEventListener("htmx:historyRestore", followTabs);
  window.addEventListener("popstate", followTabs);

  // Buttons with data-copy="#selector" copy that field's value.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
