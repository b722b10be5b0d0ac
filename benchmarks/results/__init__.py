"""The floor of the harness: the results documents (schema, store, folders), the statistics
and throughput arithmetic on them, and markdown tables; nothing here runs a framework."""
