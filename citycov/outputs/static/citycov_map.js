/* citycov map controls: legend per visible layer, full screen, distance measure.
   Plain Leaflet 1.9 code, no other library; inlined into map.html so it works offline. */
(function () {
  "use strict";
  function el(tag, cls, parent) { var e = L.DomUtil.create(tag, cls, parent); return e; }
  var SVG_FULL = "<svg width='16' height='16' viewBox='0 0 16 16' style='vertical-align:middle'><path d='M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5' fill='none' stroke='#333' stroke-width='2'/></svg>";
  var SVG_RULER = "<svg width='18' height='18' viewBox='0 0 18 18' style='vertical-align:middle'><rect x='1' y='6' width='16' height='6' fill='none' stroke='#333' stroke-width='1.5'/><path d='M4 6v3M7 6v2M10 6v3M13 6v2' stroke='#333' stroke-width='1.2'/></svg>";

  // Popup content built from text nodes only: data from input files is never parsed as HTML.
  window.citycovTextPopup = function (title, body) {
    var div = document.createElement("div");
    div.className = "citycov-popup";
    var b = document.createElement("b");
    b.textContent = title;
    div.appendChild(b);
    String(body || "").split("\n").forEach(function (line) {
      div.appendChild(document.createElement("br"));
      div.appendChild(document.createTextNode(line));
    });
    return div;
  };

  // Legend: one entry per overlay layer, shown while that layer is on the map.
  L.Control.CitycovLegend = L.Control.extend({
    options: { position: "bottomright", title: "Legend" },
    initialize: function (entries, options) { L.setOptions(this, options); this._entries = entries; },
    onAdd: function (map) {
      this._div = el("div", "citycov-legend leaflet-control");
      L.DomEvent.disableClickPropagation(this._div);
      L.DomEvent.disableScrollPropagation(this._div);
      map.on("layeradd layerremove overlayadd overlayremove", this._update, this);
      this._map = map;
      this._update();
      return this._div;
    },
    _update: function () {
      var map = this._map, html = "";
      for (var i = 0; i < this._entries.length; i++) {
        var e = this._entries[i];
        if (map.hasLayer(e.layer)) { html += "<div class='citycov-legend-block' data-layer='" + e.key + "'>" + e.html + "</div>"; }
      }
      this._div.innerHTML = html ? "<b>" + this.options.title + "</b>" + html : "";
      this._div.style.display = html ? "block" : "none";
    }
  });

  // Full screen: the Fullscreen API on the map's container.
  L.Control.CitycovFullscreen = L.Control.extend({
    options: { position: "topleft", title: "Full screen" },
    onAdd: function (map) {
      var bar = el("div", "leaflet-bar leaflet-control citycov-fullscreen");
      var a = el("a", "", bar);
      a.href = "#"; a.title = this.options.title; a.setAttribute("role", "button"); a.innerHTML = SVG_FULL;
      L.DomEvent.on(a, "click", function (ev) {
        L.DomEvent.preventDefault(ev);
        var c = map.getContainer();
        if (document.fullscreenElement) { document.exitFullscreen(); }
        else if (c.requestFullscreen) { c.requestFullscreen(); }
      });
      document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });
      return bar;
    }
  });

  // Measure: click points, the running great-circle length is shown; double-click ends.
  L.Control.CitycovMeasure = L.Control.extend({
    options: { position: "topleft", title: "Measure distance", hint: "click points; double-click to finish" },
    onAdd: function (map) {
      var self = this;
      var bar = el("div", "leaflet-bar leaflet-control citycov-measure");
      var a = el("a", "", bar);
      a.href = "#"; a.title = this.options.title; a.setAttribute("role", "button"); a.innerHTML = SVG_RULER;
      this._out = el("div", "citycov-measure-out", bar);
      this._out.style.display = "none";
      this._map = map; this._active = false; this._points = []; this._line = null;
      L.DomEvent.on(a, "click", function (ev) { L.DomEvent.preventDefault(ev); self._toggle(); });
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    },
    _toggle: function () {
      var map = this._map;
      this._active = !this._active;
      if (this._line) { map.removeLayer(this._line); this._line = null; }
      this._points = [];
      if (this._active) {
        map.doubleClickZoom.disable();
        map.on("click", this._add, this); map.on("dblclick", this._finish, this);
        map.getContainer().style.cursor = "crosshair";
        this._out.style.display = "block"; this._out.innerHTML = this.options.hint;
      } else { this._finish(); this._out.style.display = "none"; }
    },
    _add: function (ev) {
      this._points.push(ev.latlng);
      if (!this._line) { this._line = L.polyline(this._points, { color: "#333", dashArray: "4 4", weight: 2 }).addTo(this._map); }
      else { this._line.setLatLngs(this._points); }
      var d = 0;
      for (var i = 1; i < this._points.length; i++) { d += this._points[i - 1].distanceTo(this._points[i]); }
      this._out.innerHTML = d >= 1000 ? (d / 1000).toFixed(2) + " km" : d.toFixed(0) + " m";
    },
    _finish: function () {
      var map = this._map;
      map.off("click", this._add, this); map.off("dblclick", this._finish, this);
      map.doubleClickZoom.enable(); map.getContainer().style.cursor = "";
      this._active = false;
    }
  });
})();
