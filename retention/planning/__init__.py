"""Planning: policies and the live index in, a deletion plan (a pure value) out."""
