"""Issue drafts: shared Yjs documents that people and agents edit together (design §7)."""
