"""Connectors: turn sources (folders, repositories, PDFs, text) into lazy streams of documents.

    from connectors import registry
    for item in registry.for_path("src/").iter_documents("src/", exclude=["*.lock"]):
        ...  # a connectors.document.Document, or a Skipped record with its reason

Modules: `document` (Document, Skipped, header), `registry` (get, names, for_path),
`repo`, `pdf`, `text` (the built-in connectors), `options` (the options they take),
`errors` (SourceError). This package imports nothing from docqa.
"""
