"""The Campaign Builder wizard: its session state and its four steps."""
