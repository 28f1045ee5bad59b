"""Connectors: turn sources (folders, repositories, PDFs, text) into lazy streams of documents."""
