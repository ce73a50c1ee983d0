"""热线百科: the hotline's knowledge base (entries, their review lifecycle, Chinese search, exchange)."""
