"""Prompt templates as plain text files (`*.txt`), shipped as package data and read through docqa.prompt by answering and training alike."""
