"""Throughcare: consent-governed interagency data sharing for care after prison."""
