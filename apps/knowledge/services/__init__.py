"""Writes to the knowledge base: content (articles, FAQ entries), imports and search tuning."""
