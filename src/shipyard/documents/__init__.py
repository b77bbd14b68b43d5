"""Policy documents: an encrypted, audited store of versioned documents and their passages."""
