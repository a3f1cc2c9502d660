"""The sharing core: categories, the decision, visibility, redaction and audit."""
