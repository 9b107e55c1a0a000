"""Real HTTP servers for tests, each run as a subprocess on 127.0.0.1 (see ``launch``)."""
