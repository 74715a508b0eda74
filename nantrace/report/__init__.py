"""The report's frozen records and their renderings: text, HTML, GraphML, notebook."""
