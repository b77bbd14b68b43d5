"""The billing policy assistant: retrieval over active insurer policies and cited, extractive answers."""
