"""Hubbub's foundation: settings, errors, the Store and identity. Imports nothing of ours."""
