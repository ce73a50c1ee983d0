"""The knowledge base's pure core: entries as values, the lifecycle as a table, query building and
ranking. No I/O, no clock reads: events and time in, the new entry and commands out."""
