// Conveniences on top of pages that work without this script: copy buttons. No page needs it
// to read or to change anything (deleting asks on the server, not in a dialog).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button[data-copy]");
    if (!b) {
      return;
    }
    var src = document.getElementById(b.getAttribute("data-copy"));
    if (!src || !navigator.clipboard) {
      return;
    }
    navigator.clipboard.writeText(src.textContent.trim()).then(function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    }, function () {});
  });
})();
