/* Upload progress for forms marked data-upload-progress (the request's documents).
 * Without JavaScript the form posts as usual; with it, the same POST goes through
 * XMLHttpRequest so the page can show how much has been sent. The server answers as it
 * would to the plain form: a redirect (followed here) or a page with the problems. */
(function () {
  "use strict";
  function replacePage(html, url) {
    var next = new DOMParser().parseFromString(html, "text/html");
    document.title = next.title;
    document.body.replaceWith(document.importNode(next.body, true));
    if (url && window.history.replaceState) { window.history.replaceState(null, "", url); }
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-upload-progress")) { return; }
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("formaction")) { return; } /* "change your answers" */
    if (!window.XMLHttpRequest || !window.FormData || !window.DOMParser) { return; }
    event.preventDefault();
    if (form.dataset.sending === "yes") { return; } /* a double click sends once */
    form.dataset.sending = "yes";
    var box = form.querySelector(".upload-progress");
    var bar = box ? box.querySelector("progress") : null;
    if (box) { box.hidden = false; }
    /* form.action would be the button named "action"; read the attribute. */
    var target = new URL(form.getAttribute("action") || "", window.location.href).href;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", target);
    xhr.upload.addEventListener("progress", function (e) {
      if (bar && e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
    });
    xhr.addEventListener("load", function () {
      var finalUrl = xhr.responseURL || target;
      if (xhr.status >= 200 && xhr.status < 300 && finalUrl !== target) {
        window.location.assign(finalUrl);
        return;
      }
      replacePage(xhr.responseText, null);
    });
    xhr.addEventListener("error", function () {
      /* The network failed: send the plain form, the idempotency key makes it safe. */
      form.dataset.sending = "no";
      form.removeAttribute("data-upload-progress");
      form.submit();
    });
    xhr.send(new FormData(form));
  });
})();
