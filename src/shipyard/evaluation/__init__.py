"""Evaluation: labelled questions run through a service, scored against agreed targets."""
