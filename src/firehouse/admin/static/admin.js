// Mirrors two rules the server enforces anyway, so the form says them before saving:
// Allow credentials is off while Allowed origins contains "*", and "Select all" methods.
(function () {
  "use strict";
  var origins = document.getElementById("origins");
  var credentials = document.getElementById("allow_credentials");
  var reason = document.getElementById("credentials-reason");
  var warning = document.getElementById("origins-any-warning");
  if (origins && credentials) {
    var sync = function () {
      var any = origins.value.split(/[\s,]+/).indexOf("*") !== -1;
      if (any) { credentials.checked = false; }
      credentials.disabled = any;
      reason.hidden = !any;
      warning.hidden = !any;
    };
    origins.addEventListener("input", sync);
    sync();
  }
  var all = document.getElementById("methods_all");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=methods]"));
  if (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        all.checked = boxes.every(function (b) { return b.checked; });
      });
    });
  }
})();
