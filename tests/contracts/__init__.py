"""Abstract contract test cases that every component of a family must pass (PyKEEN idea)."""
