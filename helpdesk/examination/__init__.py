"""A ticket's documents read, checked and decided, exactly once; beside intake in the service."""
