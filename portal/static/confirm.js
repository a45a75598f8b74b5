// Forms (or the one submit button) marked data-confirm ask before an action that cannot be undone.
// A script file, not inline handlers: the CSP allows scripts from this origin only.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var button = ev.submitter;
    var question = (button && button.dataset && button.dataset.confirm) || (form && form.dataset ? form.dataset.confirm : null);
    if (question && !window.confirm(question)) { ev.preventDefault(); }
  }, true);
})();
