"""Helpers for tests, benchmarks and docs (a real UI server on a free port, screenshots); not installed with the
package."""
