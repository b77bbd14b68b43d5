"""Alerts: rules over signals, pending/firing/resolved states, silences, and notification channels."""
