"""The endpoint matrix: every route called as every kind of caller, with valid and broken input."""
