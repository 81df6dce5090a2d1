/* Staff workspace keyboard and small comforts. Everything here is optional: the pages work
   without JavaScript. j/k move through the inbox, Enter opens, c takes the task, / searches,
   ? shows the help. Buttons marked data-once cannot be pressed twice (double submits). */
(function () {
  'use strict';
  var current = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll('#inbox-table tbody tr[data-task]'));
  }

  function mark(row) {
    rows().forEach(function (r) { r.classList.remove('is-current'); });
    if (!row) { return; }
    row.classList.add('is-current');
    current = row.getAttribute('data-task');
    var link = row.querySelector('a.task-link');
    if (link) { link.focus(); }
  }

  function currentRow() {
    return rows().filter(function (r) { return r.getAttribute('data-task') === current; })[0] || null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(currentRow());
    index = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    mark(all[index]);
  }

  function typing(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
  }

  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var row = currentRow();
    if (event.key === 'j') { move(1); event.preventDefault(); }
    else if (event.key === 'k') { move(-1); event.preventDefault(); }
    else if (event.key === 'Enter' && row && event.target.tagName !== 'A' && event.target.tagName !== 'BUTTON') {
      window.location.assign(row.getAttribute('data-href'));
    } else if (event.key === 'c' && row) {
      var claim = row.querySelector('form.claim-form');
      if (claim) { event.preventDefault(); claim.requestSubmit ? claim.requestSubmit() : claim.submit(); }
    } else if (event.key === '/') {
      var search = document.getElementById('f-q');
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === '?') {
      var help = document.getElementById('shortcuts');
      if (help) { help.open = !help.open; if (help.open) { help.querySelector('summary').focus(); } }
    }
  });

  // The list refreshes itself (htmx) — but not under the reader's hands: while rows are
  // selected for bulk approval or focus is inside the list, the refresh waits.
  document.addEventListener('htmx:beforeRequest', function (event) {
    var list = document.getElementById('inbox-list');
    if (!list || event.target !== list) { return; }
    var busy = list.querySelector('input[name="task"]:checked') || list.contains(document.activeElement);
    if (busy) { event.preventDefault(); }
  });

  // Keep the row the reader was on after a refresh.
  document.addEventListener('htmx:afterSwap', function () {
    var row = currentRow();
    if (row) { row.classList.add('is-current'); }
  });

  document.addEventListener('submit', function (event) {
    var button = event.target.querySelector('button[data-once]');
    if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
  });
}());
