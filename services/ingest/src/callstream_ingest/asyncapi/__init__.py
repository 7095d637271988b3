"""The Kafka side's AsyncAPI document, served as JSON and as an offline HTML page."""
