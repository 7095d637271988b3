"""The read side shared by the API, the console and Slack: pure rules (filters and cursors,
the MEDDIC picture of a deal across its calls, performance statistics) and the query
functions that load what they need from PostgreSQL."""
