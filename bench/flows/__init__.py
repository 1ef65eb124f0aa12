"""The money-flow benchmark's server side: settings, URLs and the one-row-insert baseline."""
