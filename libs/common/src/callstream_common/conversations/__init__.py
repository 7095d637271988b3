"""The conversation as the stages see it: its status rules (pure), the repository and unit
of work every stage handler goes through (ports), and their PostgreSQL/Kafka adapters."""
