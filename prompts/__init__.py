"""Prompt templates as plain text files (`*.txt`), shipped as package data and read by docqa.answer."""
