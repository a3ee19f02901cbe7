"""Test helpers shared across suites: real servers started for a test and stopped after."""
