"""The reports' pure part: figures from rows the adapters load, spike tests, SVG charts."""
