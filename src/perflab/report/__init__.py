"""Rendering of stored results: terminal tables now; HTML, Markdown and JUnit later."""
