"""The ``nantrace`` command. Exit codes: 0 fine, 1 non-finite found, 2 usage/input error."""
