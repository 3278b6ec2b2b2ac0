"""Outputs: files, report, maps and figures rendered from finished results (and re-rendered from disk).

Modules
-------
write        stage every output of a run and move it into place atomically
report       districts.csv/json, report.md and the rasters
saved        reading a finished run back from disk
maps         the offline bilingual folium map
report_html  the hearing report (HTML)
figures      charts for the report
plan         the outputs of `citycov plan`: tables, GeoJSON, provenance, report section, map rows
i18n         English and Chinese labels
web_assets   inlined Leaflet and citycov's own controls
atomic       atomic file writes
names        safe file names from names that come from input (presets, chart keys)
tables       CSV writing safe against spreadsheet formula injection, and reading it back
reproducible --reproducible / SOURCE_DATE_EPOCH: no run time in the outputs, byte-identical runs
"""
