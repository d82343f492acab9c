"""Serialise events and send them to Kafka."""
