"""The ``siaran`` command line."""
