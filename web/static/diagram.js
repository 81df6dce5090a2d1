/* Draws a BPMN diagram with the vendored bpmn-js viewer: the element with id "diagram" names
   a JSON address with {xml, completed, current, counts}. Done steps and the current step get
   markers (styled in polis.css); counts become badges on their elements. */
(function () {
  'use strict';
  var container = document.getElementById('diagram');
  if (!container || !window.BpmnJS) { return; }
  fetch(container.getAttribute('data-src'), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then(function (answer) { return answer.json(); })
    .then(function (data) {
      var viewer = new window.BpmnJS({ container: container });
      return viewer.importXML(data.xml).then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        canvas.zoom('fit-viewport');
        (data.completed || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, 'is-done'); } });
        (data.current || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, 'is-now'); } });
        var overlays = viewer.get('overlays');
        Object.keys(data.counts || {}).forEach(function (id) {
          if (!registry.get(id)) { return; }
          var badge = document.createElement('span');
          badge.className = 'count-badge';
          badge.textContent = String(data.counts[id]);
          overlays.add(id, { position: { top: -12, right: 12 }, html: badge });
        });
        container.classList.add('is-ready');
      });
    })
    .catch(function () { container.classList.add('is-broken'); });
}());
