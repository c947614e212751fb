"""Folder of the chaos witness module (`chaos_tap`), put on the supervisor's python path."""
