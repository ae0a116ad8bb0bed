// onramp admin console: progressive enhancement only. Every page works
// without this script; it adds copy buttons.
(function () {
  "use strict";
  function copyText(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) { return; }
    var text = target.textContent.trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { select(target); });
    } else {
      select(target);
    }
  }
  // select leaves the text selected, for Ctrl+C, where the clipboard API is
  // not available (plain http other than localhost).
  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { copyText(b); });
    });
  });
})();
